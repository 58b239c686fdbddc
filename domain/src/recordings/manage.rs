//! What its uploader and the editors do to a recording once it is in the catalog: describe
//! it again, delete it, restore it. Who may is [`super::can_describe`] (and for a restore,
//! [`super::manages`]); the changes are [`super::life`]'s.

use sea_orm::DatabaseConnection;

use crate::{Licence, caps, error::ServiceError, model::Viewer, place, write::Write};

use super::{by_slug, can_describe, life, manages};

/// What an uploader may change about a recording after uploading it.
#[derive(Debug, Clone)]
pub struct Description {
    pub title: String,
    pub description: String,
    pub location: String,
    pub licence: String,
    /// `None` leaves it as it is.
    pub microphone: Option<String>,
    /// Comma-separated tag names; `None` leaves them as they are.
    pub tags: Option<String>,
    /// Where it was recorded, as typed (or picked on the form's map): latitude, longitude
    /// and whether to blur it to about a kilometre. `None` leaves the place as it is; two
    /// empty fields take it away.
    pub coordinates: Option<(String, String, bool)>,
}

/// The most tags one recording has.
pub const MAX_TAGS: usize = 12;

/// "birds, dawn chorus , Wytham" → the names, trimmed, each at most 48 characters.
fn tag_names(raw: &str) -> Result<Vec<String>, ServiceError> {
    let names: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if names.len() > MAX_TAGS {
        return Err(ServiceError::Invalid(format!(
            "A recording has at most {MAX_TAGS} tags."
        )));
    }
    if names.iter().any(|n| n.chars().count() > 48) {
        return Err(ServiceError::invalid("A tag has at most 48 characters."));
    }
    Ok(names)
}

/// The uploader describes (or re-describes) a recording that is not public yet; an editor
/// may change any. The same caps and licences hold as for an upload; an empty licence keeps
/// the one set.
#[tracing::instrument(skip_all, fields(user = who.user_id))]
pub async fn describe(
    db: &DatabaseConnection,
    who: &Viewer,
    slug: &str,
    d: Description,
) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    let row = by_slug(&w, slug).await?;
    if !can_describe(&row, Some(who)) {
        return Err(ServiceError::forbidden(
            "Only its uploader (before it is published) or an editor can change this.",
        ));
    }
    let licence = match d.licence.trim() {
        "" => None,
        key => Some(Licence::parse(key)?),
    };
    let meta = crate::UploadMeta::parse(
        &d.title,
        &d.description,
        &d.location,
        licence.map_or(&row.licence, |l| l.as_str()),
        "",
    )?;
    let microphone = match d.microphone.as_deref().map(str::trim) {
        Some(m) if m.chars().count() > caps::MICROPHONE => {
            return Err(ServiceError::Invalid(format!(
                "The microphone has at most {} characters.",
                caps::MICROPHONE
            )));
        }
        Some(m) => m.to_owned(),
        None => row.microphone.clone(),
    };
    let tags = d.tags.as_deref().map(tag_names).transpose()?;
    let place = d
        .coordinates
        .as_ref()
        .map(|(lat, lon, blur)| place(lat, lon, *blur))
        .transpose()?;
    let described = life::Described {
        place,
        title: meta.title,
        description: meta.description,
        location: meta.location,
        licence: meta.licence.as_str().to_owned(),
        microphone,
        tags,
    };
    let changed = life::describe(&w, row, described, who).await?;
    w.commit(changed).await?;
    Ok(())
}

/// An editor deletes a recording (its uploader may, until it is published): hidden at
/// once, restorable for `Status::RESTORE_DAYS` by its uploader or an editor.
#[tracing::instrument(skip_all, fields(user = who.user_id))]
pub async fn delete(db: &DatabaseConnection, who: &Viewer, slug: &str) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    let row = by_slug(&w, slug).await?;
    if !can_describe(&row, Some(who)) {
        return Err(ServiceError::forbidden(
            "Only its uploader (before it is published) or an editor can delete this.",
        ));
    }
    let id = row.id;
    let changed = life::delete(&w, row).await?;
    w.commit(changed).await?;
    tracing::info!(recording = id, "recording deleted");
    Ok(())
}

/// Its uploader or an editor brings a deleted recording back, within its window.
#[tracing::instrument(skip_all, fields(user = who.user_id))]
pub async fn restore(
    db: &DatabaseConnection,
    who: &Viewer,
    slug: &str,
) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    let row = by_slug(&w, slug).await?;
    if !manages(&row, Some(who)) {
        return Err(ServiceError::NotFound);
    }
    let id = row.id;
    let changed = life::restore(&w, row).await?;
    w.commit(changed).await?;
    tracing::info!(recording = id, "recording restored");
    Ok(())
}
