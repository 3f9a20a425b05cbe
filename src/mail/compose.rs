//! The mails themselves: plain text and HTML alternatives, built with
//! lettre, which encodes every header (a display name holding CR/LF cannot
//! add one) and formats the message once, at queueing time, so a retry
//! sends the same bytes with the same Message-ID.

pub use crate::config::host_of;
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;

/// A composed mail, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// What it is (`password_reset`, `verify_email`): for logs and metrics.
    pub kind: &'static str,
    /// Envelope sender and recipient (bare addresses).
    pub sender: String,
    pub recipient: String,
    /// The whole message, RFC 5322, as it will be sent.
    pub message: String,
}

/// Why a mail could not be composed: the configured sender is not an
/// address, or lettre refused the message. Never the recipient's fault
/// (an address lettre cannot carry is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("the sender address cannot be used")]
    Sender(#[source] lettre::address::AddressError),
    #[error("the message cannot be built")]
    Build(#[source] lettre::error::Error),
    #[error("the message is not UTF-8")]
    Encoding(#[source] std::string::FromUtf8Error),
}

type Composed = Result<Option<Mail>, ComposeError>;

/// The product's name, as mails say it.
pub const PRODUCT: &str = "Painline";

/// Who a mail goes to.
pub struct Recipient<'a> {
    pub email: &'a str,
    /// The account's name, or `None` for a mail that must carry no text the
    /// requester chose (one to an address not yet proven).
    pub display_name: Option<&'a str>,
}

/// What a mail says: an introduction, perhaps a one-time link, and what
/// to do when the mail was not expected.
struct Content<'a> {
    kind: &'static str,
    subject: String,
    /// One or two sentences before the link.
    intro: String,
    link: Option<Link<'a>>,
    /// After the link: what to do when the mail was not expected.
    outro: &'a str,
    series: Option<Series>,
    /// The host of `PAINLINE_PUBLIC_URL`, the right side of Message-IDs
    /// (not the machine's host name, which a mail should not reveal).
    domain: &'a str,
}

/// A link: the words on its button, where it goes, and until when (a
/// one-time link) or `None` (a link that stays, such as the dashboard).
struct Link<'a> {
    action: &'a str,
    url: String,
    expires_at: Option<DateTime<Utc>>,
}

/// What makes a mail one of a series the reader asked for (a reminder, a
/// digest): why it comes, and the links that stop it (RFC 8058).
struct Series {
    /// "You get this mail because …"
    why: String,
    /// The page behind the link in the text, with a button.
    page: String,
    /// `List-Unsubscribe`: where a mail client POSTs to stop it at once.
    one_click: String,
}

/// A link to reset the password of the account at `to`; `None` when the
/// address is one no mail can be sent to (see [`compose`]).
pub fn password_reset(
    from: &str,
    to: &Recipient<'_>,
    public_url: &str,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Composed {
    compose(
        from,
        to,
        Content {
            kind: "password_reset",
            subject: format!("Reset your {PRODUCT} password"),
            intro: format!(
                "Someone asked to reset the password of the {PRODUCT} account for {}.",
                to.email
            ),
            link: Some(Link {
                action: "Choose a new password",
                url: format!("{public_url}/reset-password#token={token}"),
                expires_at: Some(expires_at),
            }),
            outro: "If it was not you, ignore this mail: the password stays as it is, \
                    and the link stops working when it expires.",
            domain: host_of(public_url),
            series: None,
        },
    )
}

/// To a therapist whose account the clinic made (`painline therapist add`):
/// a link to choose the password, which also proves the address.
pub fn therapist_welcome(
    from: &str,
    to: &Recipient<'_>,
    public_url: &str,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Composed {
    compose(
        from,
        to,
        Content {
            kind: "therapist_welcome",
            subject: format!("Your {PRODUCT} therapist account"),
            intro: format!(
                "A {PRODUCT} therapist account was made for {} by the people who run \
                 this {PRODUCT} service. Choose its password to start using it.",
                to.email
            ),
            link: Some(Link {
                action: "Choose your password",
                url: format!("{public_url}/reset-password#token={token}"),
                expires_at: Some(expires_at),
            }),
            outro: "If you did not expect this account, ignore this mail and tell the clinic: \
                    nobody can sign in to it until a password is chosen with this link.",
            domain: host_of(public_url),
            series: None,
        },
    )
}

/// A link that proves `to` receives mail for the account; `None` when the
/// address is one no mail can be sent to.
pub fn verify_email(
    from: &str,
    to: &Recipient<'_>,
    public_url: &str,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Composed {
    compose(
        from,
        to,
        Content {
            kind: "verify_email",
            subject: format!("Confirm your e-mail address for {PRODUCT}"),
            intro: format!(
                "Please confirm that {} is the address of your {PRODUCT} account, \
                 so that you can reset your password if you ever forget it.",
                to.email
            ),
            link: Some(Link {
                action: "Confirm this address",
                url: format!("{public_url}/verify-email#token={token}"),
                expires_at: Some(expires_at),
            }),
            outro: "If you did not create an account, ignore this mail.",
            domain: host_of(public_url),
            series: None,
        },
    )
}

/// To the new address of an account: the link that makes it the account's.
pub fn change_email(
    from: &str,
    to: &Recipient<'_>,
    public_url: &str,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Composed {
    compose(
        from,
        to,
        Content {
            kind: "change_email",
            subject: format!("Confirm your new e-mail address for {PRODUCT}"),
            intro: format!(
                "Please confirm that {} is to be the new address of your {PRODUCT} \
                 account. The address changes when you open this link.",
                to.email
            ),
            link: Some(Link {
                action: "Confirm the new address",
                url: format!("{public_url}/verify-email#token={token}"),
                expires_at: Some(expires_at),
            }),
            outro: "If you did not ask for this, ignore this mail: nothing changes.",
            domain: host_of(public_url),
            series: None,
        },
    )
}

/// To the old address of an account: a change to `new_email` was asked
/// for. The new address is shown masked (this mailbox may not be the
/// account owner's any more); there is no link to follow.
pub fn address_change_notice(
    from: &str,
    to: &Recipient<'_>,
    public_url: &str,
    new_email: &str,
) -> Composed {
    compose(
        from,
        to,
        Content {
            kind: "address_change_notice",
            subject: format!("Your {PRODUCT} address is being changed"),
            intro: format!(
                "Someone signed in to the {PRODUCT} account for {} and asked to change \
                 its address to {}. The change happens only when the link sent to the \
                 new address is opened.",
                to.email,
                masked(new_email)
            ),
            link: None,
            outro: "If it was not you, someone knows your password: sign in and change it \
                    at once, which also signs out every other device.",
            domain: host_of(public_url),
            series: None,
        },
    )
}

/// Where a series mail's links go: the page with a button, and the URL a
/// mail client POSTs to (RFC 8058). Both carry the one token.
fn series(public_url: &str, token: &str, why: String) -> Series {
    Series {
        why,
        page: format!("{public_url}/unsubscribe#token={token}"),
        one_click: format!("{public_url}/v1/unsubscribe?token={token}"),
    }
}

/// A patient's reminder to log `date` (their local date), which has no
/// entry yet. No health data: not even how the last days went.
pub fn reminder(
    from: &str,
    to: &Recipient<'_>,
    public_url: &str,
    unsubscribe_token: &str,
    date: chrono::NaiveDate,
) -> Composed {
    compose(
        from,
        to,
        Content {
            kind: "reminder",
            subject: format!("A reminder to log today in {PRODUCT}"),
            intro: format!(
                "You have not logged how your back feels today ({}) yet. \
                 It takes a few seconds in the {PRODUCT} app.",
                date.format("%A, %-d %B")
            ),
            link: None,
            outro: "Days you log make the picture you and your therapist see clearer.",
            domain: host_of(public_url),
            series: Some(series(
                public_url,
                unsubscribe_token,
                "You get this mail because you turned on daily reminders.".to_owned(),
            )),
        },
    )
}

/// A therapist's weekly digest: how many linked patients need attention
/// (at least one), and the way to the dashboard. It names no patient.
pub fn digest(
    from: &str,
    to: &Recipient<'_>,
    public_url: &str,
    unsubscribe_token: &str,
    patients_with_alerts: usize,
) -> Composed {
    let who = if patients_with_alerts == 1 {
        "1 of your patients needs".to_owned()
    } else {
        format!("{patients_with_alerts} of your patients need")
    };
    compose(
        from,
        to,
        Content {
            kind: "digest",
            subject: format!("{PRODUCT} this week: {who} attention"),
            intro: format!(
                "{who} attention in {PRODUCT} this week (a warning sign reported, pain rising, \
                 one of your alert rules reached, or no recent entries). The dashboard shows \
                 who and why."
            ),
            link: Some(Link {
                action: "Open the dashboard",
                url: format!("{public_url}/dashboard/"),
                expires_at: None,
            }),
            outro: "Sign in to see them; this mail names no one.",
            domain: host_of(public_url),
            series: Some(series(
                public_url,
                unsubscribe_token,
                "You get this mail because you turned on the weekly digest.".to_owned(),
            )),
        },
    )
}

/// `a…@example.org`: enough for the owner to recognise an address.
fn masked(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".to_owned(),
    }
}

/// `2026-12-05 14:30 UTC`: unambiguous for any reader's time zone.
fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `None` when lettre cannot take the address as a recipient: the account
/// rules accept some internationalised addresses that SMTP cannot carry
/// (a domain that is not valid IDNA, say). The account still works; it just
/// gets no mail, which the caller logs.
fn compose(from: &str, to: &Recipient<'_>, mail: Content<'_>) -> Composed {
    let from: Mailbox = from.parse().map_err(ComposeError::Sender)?;
    let Ok(address) = to.email.parse() else {
        return Ok(None);
    };
    // The name as data: lettre encodes it (RFC 2047) and quotes it; line
    // breaks in it are dropped first so it is one line however it is shown.
    let name: Option<String> = to
        .display_name
        .map(|name| {
            name.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .trim()
                .to_owned()
        })
        .filter(|name| !name.is_empty());
    let greeting = match &name {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    };
    let to_box = Mailbox::new(name, address);
    let mut text = format!("{greeting}\n\n{}\n\n", mail.intro);
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif; line-height: 1.5\">\
         <p>{}</p><p>{}</p>",
        escape(&greeting),
        escape(&mail.intro),
    );
    if let Some(link) = &mail.link {
        text.push_str(&format!("{}:\n{}\n\n", link.action, link.url));
        html.push_str(&format!(
            "<p><a href=\"{}\" style=\"display: inline-block; padding: 0.6em 1.2em; \
             background: #2b6cb0; color: #fff; text-decoration: none; border-radius: 4px\">{}</a></p>\
             <p style=\"font-size: 0.9em\">Or open this address: {}</p>",
            escape(&link.url),
            escape(link.action),
            escape(&link.url),
        ));
        if let Some(expires_at) = link.expires_at {
            let expiry = format!("The link works until {}.", when(expires_at));
            text.push_str(&format!("{expiry}\n\n"));
            html.push_str(&format!("<p>{}</p>", escape(&expiry)));
        }
    }
    text.push_str(&format!("{}\n\n", mail.outro));
    html.push_str(&format!("<p>{}</p>", escape(mail.outro)));
    if let Some(series) = &mail.series {
        text.push_str(&format!(
            "{} To stop these mails:\n{}\n\n",
            series.why, series.page
        ));
        html.push_str(&format!(
            "<p style=\"font-size: 0.9em; color: #666\">{} \
             <a href=\"{}\">Stop these mails</a>.</p>",
            escape(&series.why),
            escape(&series.page),
        ));
    }
    text.push_str(&format!("-- \n{PRODUCT}\n"));
    html.push_str(&format!(
        "<p style=\"color: #666\">{PRODUCT}</p></body></html>"
    ));
    let mut builder = Message::builder()
        .message_id(Some(format!("<{}@{}>", uuid::Uuid::new_v4(), mail.domain)))
        .from(from.clone())
        .to(to_box)
        .subject(mail.subject);
    if let Some(series) = &mail.series {
        // RFC 2369 and RFC 8058: a mail client offers "unsubscribe" and
        // POSTs `List-Unsubscribe=One-Click` to the URL, no sign-in.
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{}>", series.one_click),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    let message = builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(readable(text)),
                )
                .singlepart(SinglePart::html(html)),
        )
        .map_err(ComposeError::Build)?;
    Ok(Some(Mail {
        kind: mail.kind,
        sender: from.email.to_string(),
        recipient: to.email.to_owned(),
        message: String::from_utf8(message.formatted()).map_err(ComposeError::Encoding)?,
    }))
}

/// The text part as 7-bit when it is ASCII (lines end in CRLF and stay far
/// below the 998-octet limit of RFC 5322), so the link stays whole and
/// readable in the raw message: lettre's own choice, quoted-printable,
/// would wrap it and write its `=` as `=3D`. Other text (a name such as
/// Zoë) gets lettre's choice.
fn readable(text: String) -> Body {
    let plain = text.is_ascii()
        && !text.contains('\r')
        && !text.contains('\0')
        && text.lines().all(|line| line.len() < 900);
    if plain {
        let crlf = text.replace('\n', "\r\n");
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text)
    }
}

/// Text as HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message as a reader sees it: quoted-printable undone.
    fn reset_for(name: &str) -> String {
        raw_reset_for(name).replace("=\r\n", "").replace("=3D", "=")
    }

    /// The link stands whole in the raw text part (greppable in an .eml).
    #[test]
    fn the_link_is_whole_in_the_raw_message() {
        let raw = raw_reset_for("Ana");
        assert!(raw.contains("Content-Transfer-Encoding: 7bit"));
        assert!(raw.contains("\r\nhttps://painline.example.org/reset-password#token=TOKEN123\r\n"));
    }

    fn raw_reset_for(name: &str) -> String {
        let to = Recipient {
            email: "ana@example.org",
            display_name: Some(name),
        };
        let at = DateTime::parse_from_rfc3339("2026-12-05T14:30:00Z")
            .unwrap()
            .to_utc();
        password_reset(
            "Painline <no-reply@example.org>",
            &to,
            "https://painline.example.org",
            "TOKEN123",
            at,
        )
        .unwrap()
        .expect("a mail")
        .message
    }

    /// Without a name (an address not yet proven), the mail greets no one
    /// and its `To` is the bare address.
    #[test]
    fn a_mail_without_a_name_carries_none() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T14:30:00Z")
            .unwrap()
            .to_utc();
        let to = Recipient {
            email: "ana@example.org",
            display_name: None,
        };
        let mail = verify_email(
            "Painline <no-reply@example.org>",
            &to,
            "https://p.example",
            "T",
            at,
        )
        .unwrap()
        .expect("a mail")
        .message;
        assert!(mail.contains("\r\nTo: ana@example.org\r\n"), "{mail}");
        assert!(mail.contains("Hello,\r\n"), "{mail}");
    }

    #[test]
    fn a_reset_mail_has_both_alternatives_the_link_and_the_expiry() {
        let message = reset_for("Ana");
        assert!(message.contains("Content-Type: multipart/alternative"));
        assert!(message.contains("Content-Type: text/plain"));
        assert!(message.contains("Content-Type: text/html"));
        assert!(message.contains("https://painline.example.org/reset-password#token=TOKEN123"));
        assert!(message.contains("2026-12-05 14:30 UTC"));
        assert!(message.contains("Subject: Reset your Painline password"));
        assert!(message.contains("Message-ID: <"));
        assert!(message.contains("@painline.example.org>"));
        assert_eq!(host_of("https://a.example:8443/x"), "a.example");
        assert_eq!(host_of("http://[::1]:8080"), "[::1]");
    }

    /// A name holding CR/LF (one stored before names were checked) cannot
    /// add a header: it stays inside the encoded `To` line.
    #[test]
    fn a_name_cannot_add_a_header() {
        let message = raw_reset_for("Eve\r\nBcc: victim@example.net\r\nX-Evil: 1");
        let headers = message.split("\r\n\r\n").next().unwrap();
        for line in headers.split("\r\n") {
            assert!(!line.starts_with("Bcc:"), "{line}");
            assert!(!line.starts_with("X-Evil:"), "{line}");
        }
        assert!(!message.contains("\r\nBcc: victim"));
    }
}

#[cfg(test)]
mod notice {
    use super::*;

    /// The old address learns of a change, but gets no link to follow
    /// and only a masked new address.
    #[test]
    fn a_notice_has_no_link_and_masks_the_new_address() {
        let to = Recipient {
            email: "ana@example.org",
            display_name: Some("Ana"),
        };
        let mail = address_change_notice(
            "Painline <no-reply@example.org>",
            &to,
            "https://painline.example.org",
            "someone.else@example.net",
        )
        .unwrap()
        .expect("a mail");
        assert_eq!(mail.recipient, "ana@example.org");
        // As a reader sees it: quoted-printable soft breaks and `=` undone.
        let read = mail.message.replace("=\r\n", "").replace("=3D", "=");
        assert!(read.contains("is being changed"), "{read}");
        assert!(read.contains("@example.net"), "{read}");
        assert!(!read.contains("#token="));
        assert!(!read.contains("https://"));
        assert!(!read.contains("someone.else"));
        assert!(!read.contains("works until"));
        assert_eq!(masked("someone.else@example.net"), "s…@example.net");
        assert_eq!(masked("no-at-sign"), "…");
    }
}

#[cfg(test)]
mod unmailable {
    use super::*;

    /// An address the account rules take but SMTP cannot carry gets no
    /// mail, and no error (schemathesis found a 500 at registration).
    #[test]
    fn an_address_smtp_cannot_carry_gets_no_mail() {
        // What schemathesis sent, as JSON.
        let email: String = serde_json::from_str(
            r#""1\u0120@\u00b5.\u0127\u012b\ud8d0\udecc\u00e2A\u013d\u0113A\u00eb.U\u011d(\u0124\udaec\uddd4\u00a1.<J\u00bcr\u00f7\udbe1\udde2\u00d9.\ud9b1\udd2e\u00c7\ud9b7\udc98\udb7f\udf21\u00e0\u00c6\u2000\u2007""#,
        )
        .unwrap();
        let stored = crate::domain::Email::parse(&email).unwrap();
        let to = Recipient {
            email: stored.as_str(),
            display_name: Some("B"),
        };
        let at = DateTime::parse_from_rfc3339("2026-12-05T14:30:00Z")
            .unwrap()
            .to_utc();
        let mail = verify_email(
            "Painline <no-reply@example.org>",
            &to,
            "https://x.example",
            "T",
            at,
        );
        assert!(matches!(mail, Ok(None)), "{mail:?}");
    }
}
