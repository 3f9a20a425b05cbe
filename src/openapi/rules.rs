//! The server's rules that JSON Schema 2020-12 (OpenAPI 3.1) can state but
//! the derive cannot, added to the derived schemas from the same sources the
//! server checks with: the years of dates and instants
//! (`domain::logbook::Checks`), lists that name a value once, the shape of
//! each questionnaire's answers (`Instrument::shape`), a reminder's days
//! while enabled, and the sync feed's items by kind (`logbook_kinds!`).
//! Rules that relate a value to today or to stored data stay in the
//! operations' descriptions (and in `.ci/contract/hooks.py`).

use serde_json::json;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayItems, KnownFormat, Object, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Components, OpenApi, RefOr};

use crate::domain::logbook::{Instrument, DATE_PATTERN, INSTANT_PATTERN};

/// Lists whose values the server refuses to see twice (`no_duplicates`,
/// `Days::from_list`): (schema, property).
const UNIQUE_LISTS: [(&str, &str); 4] = [
    ("PainEntryBody", "regions"),
    ("PainEntryBody", "red_flags"),
    ("OwnStretchBody", "targets"),
    ("Reminders", "days"),
];

/// States the rules in `openapi`'s schemas and parameters. Runs before the
/// request bodies are copied into the answers (`open_up_all_of`), so the
/// answers state them too.
pub fn state(openapi: &mut OpenApi) {
    if let Some(components) = openapi.components.as_mut() {
        for schema in components.schemas.values_mut() {
            each_object(schema, &mut date_rule);
        }
        unique_lists(components);
        reminders_need_a_day(components);
        assessments_by_instrument(components);
        changes_by_kind(components);
    }
    for op in super::operations(openapi) {
        for parameter in op.parameters.iter_mut().flatten() {
            if let Some(schema) = parameter.schema.as_mut() {
                each_object(schema, &mut date_rule);
            }
        }
    }
}

/// Calls `f` on every object schema in `schema`, nested ones included.
fn each_object(schema: &mut RefOr<Schema>, f: &mut dyn FnMut(&mut Object)) {
    let RefOr::T(schema) = schema else {
        return;
    };
    match schema {
        Schema::Object(object) => {
            f(object);
            for property in object.properties.values_mut() {
                each_object(property, f);
            }
            if let Some(AdditionalProperties::RefOr(more)) =
                object.additional_properties.as_deref_mut()
            {
                each_object(more, f);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                each_object(items, f);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(|s| each_object(s, f)),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(|s| each_object(s, f)),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(|s| each_object(s, f)),
        _ => {}
    }
}

/// A date or date-time string: the years the server accepts.
fn date_rule(object: &mut Object) {
    let string = match &object.schema_type {
        SchemaType::Type(t) => *t == Type::String,
        SchemaType::Array(types) => types.contains(&Type::String),
        SchemaType::AnyValue => false,
    };
    let pattern = match &object.format {
        Some(SchemaFormat::KnownFormat(KnownFormat::Date)) => DATE_PATTERN,
        Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)) => INSTANT_PATTERN,
        _ => return,
    };
    if string && object.pattern.is_none() {
        object.pattern = Some(pattern.to_owned());
    }
}

fn object_mut<'a>(components: &'a mut Components, name: &str) -> Option<&'a mut Object> {
    match components.schemas.get_mut(name) {
        Some(RefOr::T(Schema::Object(object))) => Some(object),
        _ => None,
    }
}

fn unique_lists(components: &mut Components) {
    for (schema, field) in UNIQUE_LISTS {
        let property = object_mut(components, schema).and_then(|o| o.properties.get_mut(field));
        if let Some(RefOr::T(Schema::Array(array))) = property {
            array.unique_items = true;
        }
    }
}

/// `service::schedules::plan`: at least one day while enabled, stated as
/// "not enabled with no day". (Each rule added to a derived schema is one
/// keyword: utoipa keeps the keywords it has no field for in a hash map, so
/// two of them (`if` and `then`) would come out in either order.)
fn reminders_need_a_day(components: &mut Components) {
    if let Some(reminders) = object_mut(components, "Reminders") {
        reminders
            .extensions
            .get_or_insert_with(Default::default)
            .insert(
                "not".to_owned(),
                json!({
                    "required": ["enabled", "days"],
                    "properties": {"enabled": {"const": true}, "days": {"maxItems": 0}},
                }),
            );
    }
}

fn schema_of(value: serde_json::Value) -> RefOr<Schema> {
    serde_json::from_value(value).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

/// `snake_case` → `CamelCase`.
fn camel(slug: &str) -> String {
    slug.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// `AssessmentBody` becomes a `oneOf` by `instrument`, one schema per
/// questionnaire with its number of answers and their range
/// (`Instrument::shape`); the answer (`Assessment`) keeps the general shape.
fn assessments_by_instrument(components: &mut Components) {
    let Some(general) = object_mut(components, "AssessmentBody").cloned() else {
        return;
    };
    // The answer extends the body: it gets the general body, open.
    if let Some(RefOr::T(Schema::AllOf(answer))) = components.schemas.get_mut("Assessment") {
        for item in &mut answer.items {
            if matches!(item, RefOr::Ref(r) if r.ref_location.ends_with("/AssessmentBody")) {
                let mut open = general.clone();
                open.additional_properties = None;
                *item = RefOr::T(Schema::Object(open));
            }
        }
    }
    let mut refs = Vec::new();
    let mut mapping = serde_json::Map::new();
    for instrument in Instrument::ALL {
        let (count, max, answered) = instrument.shape();
        let name = format!("{}AssessmentBody", camel(instrument.as_str()));
        let mut body = general.clone();
        body.description = Some(format!(
            "Answers to the {} questionnaire.",
            instrument.as_str().to_uppercase()
        ));
        body.properties.insert(
            "instrument".to_owned(),
            schema_of(json!({"type": "string", "enum": [instrument.as_str()]})),
        );
        let answers = if answered == count {
            json!({
                "type": "array",
                "description": format!("{count} answers, each 0..{max}."),
                "items": {"type": "integer", "minimum": 0, "maximum": max},
                "minItems": count,
                "maxItems": count,
            })
        } else {
            json!({
                "type": "array",
                "description": format!("{count} answers, each 0..{max} or null for a blank one; at least {answered} answered."),
                "items": {"type": ["integer", "null"], "minimum": 0, "maximum": max},
                "minItems": count,
                "maxItems": count,
            })
        };
        let mut answers = schema_of(answers);
        if answered < count {
            // At least `answered` answered (in an `allOf` of its own: one
            // keyword, see `reminders_need_a_day`).
            if let RefOr::T(Schema::Array(array)) = &mut answers {
                array
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert(
                        "allOf".to_owned(),
                        json!([{"contains": {"type": "integer"}, "minContains": answered}]),
                    );
            }
        }
        body.properties.insert("answers".to_owned(), answers);
        let location = format!("#/components/schemas/{name}");
        mapping.insert(instrument.as_str().to_owned(), json!(location));
        refs.push(json!({"$ref": location}));
        components
            .schemas
            .insert(name, RefOr::T(Schema::Object(body)));
    }
    components.schemas.insert(
        "AssessmentBody".to_owned(),
        schema_of(json!({
            "description": general.description,
            "oneOf": refs,
            "discriminator": {"propertyName": "instrument", "mapping": mapping},
        })),
    );
}

/// `Change` becomes a `oneOf` by `kind`, one schema per kind of the logbook
/// whose `data` is that kind's answer, or null when `deleted`.
fn changes_by_kind(components: &mut Components) {
    let Some(general) = object_mut(components, "Change").cloned() else {
        return;
    };
    let mut refs = Vec::new();
    let mut mapping = serde_json::Map::new();
    for (kind, view) in crate::kinds::view_schemas() {
        let name = format!("{}Change", camel(kind.as_str()));
        let mut change = general.clone();
        change.description = Some(format!(
            "A `{}` that changed: `data` is its `{view}` as its GET answers it, null when `deleted`.",
            kind.as_str()
        ));
        change.properties.insert(
            "kind".to_owned(),
            schema_of(json!({"type": "string", "enum": [kind.as_str()]})),
        );
        change.properties.insert(
            "data".to_owned(),
            schema_of(json!({
                "oneOf": [{"$ref": format!("#/components/schemas/{view}")}, {"type": "null"}],
                "description": "The object as its GET returns it; null when deleted.",
            })),
        );
        if !change.required.iter().any(|r| r == "data") {
            change.required.push("data".to_owned());
        }
        // Deleted with data, or there without: neither is ever sent.
        change
            .extensions
            .get_or_insert_with(Default::default)
            .insert(
                "not".to_owned(),
                json!({"anyOf": [
                    {"properties": {"deleted": {"const": true}, "data": {"type": "object"}}, "required": ["deleted", "data"]},
                    {"properties": {"deleted": {"const": false}, "data": {"type": "null"}}, "required": ["deleted", "data"]},
                ]}),
            );
        let location = format!("#/components/schemas/{name}");
        mapping.insert(kind.as_str().to_owned(), json!(location));
        refs.push(json!({"$ref": location}));
        components
            .schemas
            .insert(name, RefOr::T(Schema::Object(change)));
    }
    components.schemas.insert(
        "Change".to_owned(),
        schema_of(json!({
            "description": general.description,
            "oneOf": refs,
            "discriminator": {"propertyName": "kind", "mapping": mapping},
        })),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keywords without a field in utoipa's types live in a hash map: with
    /// two in one schema the document would differ from build to build.
    #[test]
    fn the_document_comes_out_the_same_every_time() {
        let first = crate::openapi::document().to_yaml().unwrap_or_default();
        for _ in 0..8 {
            assert_eq!(
                crate::openapi::document().to_yaml().unwrap_or_default(),
                first
            );
        }
    }

    #[test]
    fn slugs_become_schema_names() {
        assert_eq!(camel("pain_entry"), "PainEntry");
        assert_eq!(camel("stretch"), "Stretch");
        assert_eq!(camel("odi"), "Odi");
    }
}
