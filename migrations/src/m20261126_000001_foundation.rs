//! Users, sessions, login throttling, recordings with their technical facts, tags,
//! comments and ratings; plus the full-text index over `recordings.search_text`
//! (FTS5 on SQLite, a GIN expression index on PostgreSQL).

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    Role,
    Bio,
    Trusted,
    PremiumUntil,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenHash,
    UserId,
    CsrfToken,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Id,
    Username,
    Ip,
    At,
}

#[derive(DeriveIden)]
enum Recordings {
    Table,
    Id,
    Slug,
    Title,
    Artist,
    Composer,
    Description,
    Location,
    Latitude,
    Longitude,
    RecordedOn,
    Microphone,
    Recorder,
    ProcessingNotes,
    Licence,
    UploaderId,
    Status,
    Convention,
    AmbiOrder,
    Layout,
    Channels,
    SampleRate,
    BitDepth,
    IsFloat,
    DurationMs,
    SizeBytes,
    Sha256,
    MediaKey,
    IsPremium,
    DownloadCount,
    PlayCount,
    CommentCount,
    RatingCount,
    RatingAvg,
    SearchText,
    CreatedAt,
    UpdatedAt,
    PublishedAt,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    Slug,
    Name,
}

#[derive(DeriveIden)]
enum RecordingTags {
    Table,
    RecordingId,
    TagId,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    RecordingId,
    UserId,
    Title,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Ratings {
    Table,
    RecordingId,
    UserId,
    Stars,
    UpdatedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_auto(Users::Id))
                    .col(string_len_uniq(Users::Username, 32))
                    .col(string_len_uniq(Users::Email, 254))
                    .col(string(Users::PasswordHash))
                    .col(string_len(Users::Role, 16).default("listener"))
                    .col(text(Users::Bio).default(""))
                    .col(boolean(Users::Trusted).default(false))
                    .col(timestamp_with_time_zone_null(Users::PremiumUntil))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_auto(Sessions::Id))
                    .col(string_len_uniq(Sessions::TokenHash, 64))
                    .col(integer(Sessions::UserId))
                    .col(string_len(Sessions::CsrfToken, 64))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .foreign_key(&mut fk(
                        "fk_sessions_user",
                        (Sessions::Table, Sessions::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginFailures::Table)
                    .col(pk_auto(LoginFailures::Id))
                    .col(string_len(LoginFailures::Username, 32))
                    .col(string_len(LoginFailures::Ip, 64))
                    .col(timestamp_with_time_zone(LoginFailures::At))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_login_failures_username", LoginFailures::Username),
            ("idx_login_failures_ip", LoginFailures::Ip),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(LoginFailures::Table)
                        .col(column)
                        .col(LoginFailures::At)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Recordings::Table)
                    .col(pk_auto(Recordings::Id))
                    .col(string_len_uniq(Recordings::Slug, 96))
                    .col(string_len(Recordings::Title, 200))
                    .col(string_len(Recordings::Artist, 200).default(""))
                    .col(string_len(Recordings::Composer, 200).default(""))
                    .col(text(Recordings::Description).default(""))
                    .col(string_len(Recordings::Location, 200).default(""))
                    .col(double_null(Recordings::Latitude))
                    .col(double_null(Recordings::Longitude))
                    .col(date_null(Recordings::RecordedOn))
                    .col(string_len(Recordings::Microphone, 100).default(""))
                    .col(string_len(Recordings::Recorder, 100).default(""))
                    .col(text(Recordings::ProcessingNotes).default(""))
                    .col(string_len(Recordings::Licence, 32))
                    .col(integer(Recordings::UploaderId))
                    .col(string_len(Recordings::Status, 16).default("draft"))
                    .col(string_len_null(Recordings::Convention, 16))
                    .col(integer_null(Recordings::AmbiOrder))
                    .col(string_len_null(Recordings::Layout, 8))
                    .col(integer_null(Recordings::Channels))
                    .col(integer_null(Recordings::SampleRate))
                    .col(integer_null(Recordings::BitDepth))
                    .col(boolean(Recordings::IsFloat).default(false))
                    .col(big_integer_null(Recordings::DurationMs))
                    .col(big_integer_null(Recordings::SizeBytes))
                    .col(string_len_null(Recordings::Sha256, 64))
                    .col(string_len_null(Recordings::MediaKey, 255))
                    .col(boolean(Recordings::IsPremium).default(false))
                    .col(big_integer(Recordings::DownloadCount).default(0))
                    .col(big_integer(Recordings::PlayCount).default(0))
                    .col(integer(Recordings::CommentCount).default(0))
                    .col(integer(Recordings::RatingCount).default(0))
                    .col(double(Recordings::RatingAvg).default(0.0))
                    .col(text(Recordings::SearchText).default(""))
                    .col(timestamp_with_time_zone(Recordings::CreatedAt))
                    .col(timestamp_with_time_zone(Recordings::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Recordings::PublishedAt))
                    .foreign_key(&mut fk(
                        "fk_recordings_uploader",
                        (Recordings::Table, Recordings::UploaderId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_recordings_status_published", Recordings::PublishedAt),
            ("idx_recordings_status_downloads", Recordings::DownloadCount),
            ("idx_recordings_status_rating", Recordings::RatingAvg),
            ("idx_recordings_status_duration", Recordings::DurationMs),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Recordings::Table)
                        .col(Recordings::Status)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_recordings_uploader")
                    .table(Recordings::Table)
                    .col(Recordings::UploaderId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tags::Table)
                    .col(pk_auto(Tags::Id))
                    .col(string_len_uniq(Tags::Slug, 48))
                    .col(string_len(Tags::Name, 48))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RecordingTags::Table)
                    .col(integer(RecordingTags::RecordingId))
                    .col(integer(RecordingTags::TagId))
                    .primary_key(
                        Index::create()
                            .col(RecordingTags::RecordingId)
                            .col(RecordingTags::TagId),
                    )
                    .foreign_key(&mut fk(
                        "fk_recording_tags_recording",
                        (RecordingTags::Table, RecordingTags::RecordingId),
                        (Recordings::Table, Recordings::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_recording_tags_tag",
                        (RecordingTags::Table, RecordingTags::TagId),
                        (Tags::Table, Tags::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recording_tags_tag")
                    .table(RecordingTags::Table)
                    .col(RecordingTags::TagId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .col(pk_auto(Comments::Id))
                    .col(integer(Comments::RecordingId))
                    .col(integer(Comments::UserId))
                    .col(string_len(Comments::Title, 120))
                    .col(text(Comments::Body))
                    .col(timestamp_with_time_zone(Comments::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_comments_recording",
                        (Comments::Table, Comments::RecordingId),
                        (Recordings::Table, Recordings::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_comments_user",
                        (Comments::Table, Comments::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_comments_recording")
                    .table(Comments::Table)
                    .col(Comments::RecordingId)
                    .col(Comments::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Ratings::Table)
                    .col(integer(Ratings::RecordingId))
                    .col(integer(Ratings::UserId))
                    .col(small_integer(Ratings::Stars))
                    .col(timestamp_with_time_zone(Ratings::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(Ratings::RecordingId)
                            .col(Ratings::UserId),
                    )
                    .foreign_key(&mut fk(
                        "fk_ratings_recording",
                        (Ratings::Table, Ratings::RecordingId),
                        (Recordings::Table, Recordings::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_ratings_user",
                        (Ratings::Table, Ratings::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                // An external-content FTS5 table: the text lives once, in `recordings`, and
                // triggers keep the index in step with every insert, update and delete.
                for sql in [
                    "CREATE VIRTUAL TABLE recordings_fts USING fts5(\
                       search_text, content='recordings', content_rowid='id', \
                       tokenize='unicode61 remove_diacritics 2')",
                    "CREATE TRIGGER recordings_fts_insert AFTER INSERT ON recordings BEGIN \
                       INSERT INTO recordings_fts(rowid, search_text) VALUES (new.id, new.search_text); \
                     END",
                    "CREATE TRIGGER recordings_fts_delete AFTER DELETE ON recordings BEGIN \
                       INSERT INTO recordings_fts(recordings_fts, rowid, search_text) \
                         VALUES ('delete', old.id, old.search_text); \
                     END",
                    "CREATE TRIGGER recordings_fts_update AFTER UPDATE OF search_text ON recordings BEGIN \
                       INSERT INTO recordings_fts(recordings_fts, rowid, search_text) \
                         VALUES ('delete', old.id, old.search_text); \
                       INSERT INTO recordings_fts(rowid, search_text) VALUES (new.id, new.search_text); \
                     END",
                ] {
                    db.execute_unprepared(sql).await?;
                }
            }
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE INDEX idx_recordings_search ON recordings \
                     USING GIN (to_tsvector('simple', search_text))",
                )
                .await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        }
        Ok(())
    }
}
