//! Downloads: which forms of a recording may be downloaded, and counting them.

use media::rendition::{Made, Rendition};
use sea_orm::DatabaseConnection;

use crate::{entities::recordings, error::ServiceError, write::Write};

/// What a download of `row` in `format` (`?format=…`, or none for the original) streams:
/// the original as it is (also when it is in that form already), or a rendition made on
/// the way out. Which recordings each form applies to is `Rendition::of`'s rule.
pub fn rendition(
    row: &recordings::Model,
    format: Option<&str>,
) -> Result<Option<Rendition>, ServiceError> {
    let Some(wanted) = format.filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let Some(rendition) = Rendition::parse(wanted) else {
        return Err(ServiceError::invalid(
            "Downloads come as the original, or with format= ambix, fuma, ambix-48k, binaural, uhj or 5.1.",
        ));
    };
    let channels = row
        .channels
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(0);
    match rendition.of(row.convention(), channels) {
        Ok(Made::Original) => Ok(None),
        Ok(Made::Rendered) => Ok(Some(rendition)),
        Err(e) => Err(ServiceError::invalid(&sentence(&e.to_string()))),
    }
}

/// A reason from the media crate as a sentence: capital first, full stop last.
fn sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    let first = chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_default();
    format!("{first}{}.", chars.as_str().trim_end_matches('.'))
}

/// One more download of recording `id`. A failure to count never stops the download.
pub async fn count(db: &DatabaseConnection, id: i32) {
    let counted = async {
        let w = Write::begin(db).await?;
        let changed = crate::recordings::life::count_download(&w, id).await?;
        w.commit(changed).await?;
        Ok::<_, ServiceError>(())
    }
    .await;
    if let Err(e) = counted {
        tracing::warn!(recording = id, error = %e.for_operator(), "download not counted");
    }
}
