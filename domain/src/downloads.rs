//! Downloads: which forms of a recording may be downloaded, and counting them.

use media::convert::Direction;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use crate::{Convention, entities::recordings, error::ServiceError};

/// What a download of `row` in `format` (`?format=ambix|fuma`, or none for the original)
/// streams: the original as it is, or a conversion in one direction.
pub fn conversion(
    row: &recordings::Model,
    format: Option<&str>,
) -> Result<Option<Direction>, ServiceError> {
    let Some(wanted) = format.filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let direction = match (row.convention(), Convention::parse(wanted)) {
        (Some(have), Some(want)) if have == want => return Ok(None),
        (Some(Convention::Fuma), Some(Convention::Ambix)) => Direction::FumaToAmbix,
        (Some(Convention::Ambix), Some(Convention::Fuma)) => Direction::AmbixToFuma,
        _ => {
            return Err(ServiceError::invalid(
                "Downloads convert between FuMa and AmbiX only (format=ambix or format=fuma) for B-format recordings.",
            ));
        }
    };
    if !matches!(row.channels, Some(4 | 9 | 16)) {
        return Err(ServiceError::invalid(
            "Only full-sphere recordings of order 1 to 3 convert between FuMa and AmbiX.",
        ));
    }
    Ok(Some(direction))
}

/// One more download of recording `id`. A failure to count never stops the download.
pub async fn count(db: &DatabaseConnection, id: i32) {
    let counted = recordings::Entity::update_many()
        .col_expr(
            recordings::Column::DownloadCount,
            Expr::col(recordings::Column::DownloadCount).add(1),
        )
        .filter(recordings::Column::Id.eq(id))
        .exec(db)
        .await;
    if let Err(e) = counted {
        tracing::warn!(recording = id, error = %e, "download not counted");
    }
}
