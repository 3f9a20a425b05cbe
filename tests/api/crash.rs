//! Crash safety: the real binary is killed with SIGKILL while 8 clients
//! stream writes, 20 times at different moments; after each restart every
//! write that was acknowledged with a 2xx is there and intact. On SQLite
//! this covers group commit (an answer is sent only after its group's
//! commit reached the disk); on PostgreSQL, one transaction per write.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use painline::config::DatabaseUrl;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{fresh_database, TEST_SECRET};

const ROUNDS: usize = 20;
const CLIENTS: usize = 8;

pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Starts `painline serve` and returns once it listens (its log says so).
fn start(database: &DatabaseUrl, folder: &std::path::Path, port: u16) -> Child {
    start_with(database, folder, port, &[])
}

/// `start`, with more settings in the environment.
pub(crate) fn start_with(
    database: &DatabaseUrl,
    folder: &std::path::Path,
    port: u16,
    settings: &[(&str, String)],
) -> Child {
    let url = match database {
        DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        DatabaseUrl::Postgres(url) => url.clone(),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_painline"))
        .arg("serve")
        .current_dir(folder)
        .env("DATABASE_URL", url)
        .env("PAINLINE_BIND", format!("127.0.0.1:{port}"))
        // Its clients sign up as fast as they can, all from one address.
        .env("PAINLINE_SIGNUPS_PER_HOUR", "1000000")
        .env(
            "PAINLINE_JWT_SECRET",
            std::str::from_utf8(TEST_SECRET).unwrap(),
        )
        .env("PAINLINE_LOG", "warn,painline=info")
        .env("PAINLINE_WORKERS", "2")
        .envs(settings.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start painline");
    let stderr = child.stderr.take().expect("stderr");
    let (listening, started) = mpsc::channel();
    // Drains the log for the process's whole life, so it never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("painline listening") {
                let _ = listening.send(());
            }
        }
    });
    started
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("painline listens");
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_acknowledged_before_a_sigkill_survive_it() {
    let (database, _guard) = fresh_database();
    let folder = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = start(&database, folder.path(), port);
    let registered: Value = client
        .post(format!("{base}/v1/auth/register"))
        .json(
            &json!({"email": "crash@example.org", "password": "correct horse battery",
            "display_name": "Crash", "role": "patient"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = registered["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Every acknowledged write: id → (pain level, notes).
    let acknowledged: Arc<Mutex<BTreeMap<Uuid, (i64, String)>>> = Arc::default();
    let mut kills = Vec::new();
    for round in 0..ROUNDS {
        // The kill comes after a random number of acknowledgements this round.
        let kill_after = rand::thread_rng().gen_range(1..=120);
        let acks = Arc::new(AtomicUsize::new(0));
        let (reached, kill) = tokio::sync::watch::channel(false);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (client, base, token) = (client.clone(), base.clone(), token.clone());
                let (acknowledged, acks, reached) =
                    (acknowledged.clone(), acks.clone(), reached.clone());
                tokio::spawn(async move {
                    for n in 0.. {
                        let id = Uuid::new_v4();
                        let level = (n % 11) as i64;
                        let notes = format!("round {round} client {c} write {n}");
                        let sent = client
                            .put(format!("{base}/v1/me/pain-entries/{id}"))
                            .bearer_auth(&token)
                            .json(
                                &json!({"date": "2026-11-30", "pain_level": level, "notes": notes}),
                            )
                            .send()
                            .await;
                        match sent {
                            Ok(reply) if reply.status().is_success() => {
                                acknowledged.lock().unwrap().insert(id, (level, notes));
                                if acks.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                                    let _ = reached.send(true);
                                }
                            }
                            // Refused for a reason other than the crash: a bug.
                            Ok(reply) => panic!("write answered {}", reply.status()),
                            Err(_) => return, // the server is gone
                        }
                    }
                })
            })
            .collect();
        let mut kill = kill;
        kill.wait_for(|reached| *reached).await.unwrap();
        server.kill().unwrap(); // SIGKILL: no drain, no clean shutdown
        server.wait().unwrap();
        for client in clients {
            client.await.unwrap();
        }
        kills.push(acks.load(Ordering::SeqCst));
        server = start(&database, folder.path(), port);
    }

    // Everything acknowledged in any round is there, as it was sent.
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= ROUNDS, "{kills:?}");
    for (id, (level, notes)) in &acknowledged {
        let reply = client
            .get(format!("{base}/v1/me/pain-entries/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply.status(),
            StatusCode::OK,
            "{id} was acknowledged and is gone"
        );
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["pain_level"], *level);
        assert_eq!(body["notes"], notes.as_str());
    }
    // And the sync feed hands each back exactly once.
    let page = |cursor: String| {
        let request = client
            .get(format!("{base}/v1/me/changes?limit=1000&cursor={cursor}"))
            .bearer_auth(&token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let mut seen = 0;
    let mut cursor = page(String::new()).await;
    loop {
        seen += cursor["changes"].as_array().unwrap().len();
        if !cursor["has_more"].as_bool().unwrap() {
            break;
        }
        cursor = page(cursor["next_cursor"].as_str().unwrap().to_owned()).await;
    }
    assert!(
        seen >= acknowledged.len(),
        "{seen} changes for {} writes",
        acknowledged.len()
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// The outbox under SIGKILL: an instance that queues mail but does not send
/// it (`PAINLINE_MAIL_POLL=0`) is killed while 4 clients sign up, 3 times
/// at random moments; then an instance that sends starts. Every sign-up
/// acknowledged with 201 gets its verification mail over SMTP, exactly
/// once; no mail went out for an account that does not exist (a mail and
/// what it is about commit together).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mail_accepted_before_a_sigkill_is_sent_after_the_restart() {
    use std::collections::BTreeSet;

    let (database, _guard) = fresh_database();
    let folder = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut smtp = crate::mail::SmtpServer::start();
    let relay = smtp.url();
    let mail = |poll: &str| {
        vec![
            ("PAINLINE_SMTP_URL", relay.clone()),
            (
                "PAINLINE_MAIL_FROM",
                "Painline <no-reply@painline.test>".to_owned(),
            ),
            ("PAINLINE_PUBLIC_URL", "https://painline.test".to_owned()),
            ("PAINLINE_MAIL_POLL", poll.to_owned()),
        ]
    };
    let acknowledged: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut kills = Vec::new();
    for round in 0..3 {
        let mut server = start_with(&database, folder.path(), port, &mail("0"));
        let kill_after = rand::thread_rng().gen_range(4..=30);
        let acks = Arc::new(AtomicUsize::new(0));
        let (reached, mut kill) = tokio::sync::watch::channel(false);
        let clients: Vec<_> = (0..4)
            .map(|c| {
                let (client, base) = (client.clone(), base.clone());
                let (acknowledged, acks, reached) =
                    (acknowledged.clone(), acks.clone(), reached.clone());
                tokio::spawn(async move {
                    for n in 0.. {
                        let email = format!("r{round}-c{c}-n{n}@example.org");
                        let sent = client
                            .post(format!("{base}/v1/auth/register"))
                            .json(&json!({"email": email, "password": "correct horse battery",
                                          "display_name": "Crash", "role": "patient"}))
                            .send()
                            .await;
                        match sent {
                            Ok(reply) if reply.status() == StatusCode::CREATED => {
                                acknowledged.lock().unwrap().insert(email);
                                if acks.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                                    let _ = reached.send(true);
                                }
                            }
                            // The hashing pool is full: refused, nothing stored.
                            Ok(reply) if reply.status() == StatusCode::SERVICE_UNAVAILABLE => {}
                            Ok(reply) => panic!("sign-up answered {}", reply.status()),
                            Err(_) => return, // the server is gone
                        }
                    }
                })
            })
            .collect();
        kill.wait_for(|reached| *reached).await.unwrap();
        server.kill().unwrap(); // SIGKILL: no drain, no clean shutdown
        server.wait().unwrap();
        for client in clients {
            client.await.unwrap();
        }
        kills.push(acks.load(Ordering::SeqCst));
    }
    // Nothing was sent while only non-sending instances ran.
    assert!(smtp.received_now().is_empty());

    let mut server = start_with(&database, folder.path(), port, &mail("5"));
    let acknowledged = acknowledged.lock().unwrap().clone();
    let db = painline::db::Db::connect(&database, 1).unwrap();
    let accounts = db
        .run(|conn| {
            use diesel::prelude::*;
            use painline::db::schema::users;
            Ok::<_, painline::db::DbError>(users::table.select(users::email).load::<String>(conn)?)
        })
        .await
        .unwrap();
    let accounts: BTreeSet<String> = accounts.into_iter().collect();
    assert!(
        acknowledged.is_subset(&accounts),
        "an acknowledged sign-up is gone ({kills:?})"
    );
    // One mail per account, each acknowledged one among them.
    let mut received = BTreeMap::new();
    while received.len() < accounts.len() {
        let mail = smtp.next().await;
        assert_eq!(mail.to.len(), 1);
        let id = mail.header("Message-ID").unwrap();
        assert!(
            received.insert(mail.to[0].clone(), id).is_none(),
            "{} got two mails",
            mail.to[0]
        );
    }
    assert_eq!(received.keys().cloned().collect::<BTreeSet<_>>(), accounts);
    // Stored: every mail sent (the sender records it just after the
    // relay's answer: asked a bounded number of times); nothing else goes out.
    let unsent = || {
        db.run(|conn| {
            use diesel::prelude::*;
            use painline::db::schema::mail_outbox;
            Ok::<_, painline::db::DbError>(
                mail_outbox::table
                    .filter(mail_outbox::sent_at.is_null())
                    .count()
                    .get_result::<i64>(conn)?,
            )
        })
    };
    let mut left = unsent().await.unwrap();
    for _ in 0..10_000 {
        if left == 0 {
            break;
        }
        left = unsent().await.unwrap();
    }
    assert_eq!(left, 0, "mails still unsent");
    assert!(smtp.received_now().is_empty(), "a mail was sent twice");
    eprintln!(
        "outbox crash test: kills after {kills:?} acknowledged sign-ups; {} acknowledged, {} accounts, {} mails received",
        acknowledged.len(),
        accounts.len(),
        received.len()
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// The scheduler under SIGKILL: 3,000 reminders due at once; the real
/// binary is killed while it works through them (after its first batch
/// committed) and started again. Each patient gets exactly one reminder:
/// a batch is one transaction (claim, mails, next due times), so a killed
/// batch leaves nothing and is done again; a committed one is not redone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduler_killed_mid_run_queues_each_reminder_once() {
    let (database, _guard) = fresh_database();
    let folder = tempfile::tempdir().unwrap();
    let port = free_port();
    let db = painline::db::Db::connect(&database, 1).unwrap();
    db.migrate().unwrap();
    let patients = 3_000;
    let due = (chrono::Utc::now() - chrono::Duration::minutes(1))
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    crate::schedules::due_patients_in(&db, patients, due).await;
    let count = |sql: &'static str| {
        db.run(move |conn| {
            use diesel::prelude::*;
            #[derive(QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            Ok::<_, painline::db::DbError>(diesel::sql_query(sql).get_result::<N>(conn)?.n)
        })
    };
    let queued = "SELECT COUNT(*) AS n FROM mail_outbox WHERE kind = 'reminder'";
    let pending = "SELECT COUNT(*) AS n FROM mail_schedules WHERE handled_date IS NULL";
    let quiet = [("PAINLINE_MAIL_POLL", "0".to_owned())];

    let mut server = start_with(&database, folder.path(), port, &quiet);
    let mut at_kill = 0;
    for _ in 0..100_000 {
        at_kill = count(queued).await.unwrap();
        if at_kill > 0 {
            break;
        }
    }
    server.kill().unwrap(); // SIGKILL, mid-run
    server.wait().unwrap();
    assert!(at_kill > 0, "the scheduler never ran");
    let after_kill = count(queued).await.unwrap();
    assert!(
        after_kill < patients as i64,
        "the run had ended before the kill: nothing was restarted"
    );

    let mut server = start_with(&database, folder.path(), port, &quiet);
    let mut left = count(pending).await.unwrap();
    for _ in 0..100_000 {
        if left == 0 {
            break;
        }
        left = count(pending).await.unwrap();
    }
    assert_eq!(left, 0, "reminders still due after the restart");
    let total = count(queued).await.unwrap();
    let recipients =
        count("SELECT COUNT(DISTINCT recipient) AS n FROM mail_outbox WHERE kind = 'reminder'")
            .await
            .unwrap();
    eprintln!(
        "scheduler crash test: {patients} due; {after_kill} queued when killed; \
         {total} queued in all, to {recipients} patients"
    );
    assert_eq!((total, recipients), (patients as i64, patients as i64));
    server.kill().unwrap();
    server.wait().unwrap();
}
