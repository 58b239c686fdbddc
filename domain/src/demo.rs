//! `server demo-data`: a varied sample catalog so that a newcomer sees a living site.
//!
//! Deterministic (a fixed seed), and only for an empty database: it refuses to mix sample
//! recordings into a real catalog.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use crate::{
    CommentText, Convention, Email, Password, Role, Stars, Status, Username, accounts,
    entities::{recordings, users},
    error::ServiceError,
    interactions,
    model::Viewer,
    recordings::{NewRecording, life},
    write::Write,
};

/// The password of every demo account, printed by the command.
pub const DEMO_PASSWORD: &str = "listen-in-the-round";

const USERS: [(&str, Role); 8] = [
    ("admin", Role::Admin),
    ("editor", Role::Editor),
    ("paul_h", Role::Uploader),
    ("marta", Role::Uploader),
    ("soundwalker", Role::Uploader),
    ("aurelie", Role::Uploader),
    ("listener", Role::Listener),
    ("jonas", Role::Listener),
];

/// (title, artist, location, latitude, longitude, description, tags)
type Piece = (
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    &'static str,
    &'static [&'static str],
);

const PIECES: [Piece; 20] = [
    (
        "Dawn Chorus",
        "",
        "Wytham Woods, Oxfordshire",
        51.77,
        -1.33,
        "Blackbirds, wrens and a distant song thrush wake up around a Soundfield mic on a tripod at head height.",
        &["birds", "nature", "morning"],
    ),
    (
        "Evensong",
        "Choir of St John's",
        "St John's College Chapel, Cambridge",
        52.21,
        0.12,
        "Choral evensong from the middle of the chapel; the organ speaks from behind and above.",
        &["choir", "church", "voice"],
    ),
    (
        "Harbour at Night",
        "",
        "Stonehaven Harbour",
        56.96,
        -2.2,
        "Rigging, water lapping on the hulls and the occasional gull. A calm, wide scene.",
        &["water", "city", "night"],
    ),
    (
        "Rain on a Tin Roof",
        "",
        "Dartmoor",
        50.57,
        -3.92,
        "Heavy rain on a corrugated roof with dripping gutters all around.",
        &["rain", "weather", "nature"],
    ),
    (
        "String Quartet in the Round",
        "Aurora Quartet",
        "Wigmore Hall, London",
        51.52,
        -0.15,
        "The players sit in a circle around the microphone: each instrument has its own direction.",
        &["classical", "strings", "concert"],
    ),
    (
        "Market Morning",
        "",
        "Marché d'Aligre, Paris",
        48.85,
        2.38,
        "Stall holders calling, crates, a busker with an accordion passing by from left to right.",
        &["city", "people", "morning"],
    ),
    (
        "Thunderstorm Overhead",
        "",
        "Sierra de Gredos",
        40.25,
        -5.2,
        "A storm passes directly overhead; the full-sphere recording keeps the height of the thunder.",
        &["weather", "thunder", "nature"],
    ),
    (
        "Organ Improvisation",
        "Hélène Marchand",
        "Église Saint-Eustache, Paris",
        48.86,
        2.34,
        "A free improvisation on the great organ; the reverberation tail lasts eight seconds.",
        &["organ", "church", "improvisation"],
    ),
    (
        "Underground Platform",
        "",
        "Baker Street station, London",
        51.52,
        -0.16,
        "Trains arriving and leaving on both sides, announcements, footsteps.",
        &["city", "transport", "trains"],
    ),
    (
        "Brass Band Rehearsal",
        "Black Dyke Band",
        "Queensbury, Yorkshire",
        53.77,
        -1.85,
        "A full rehearsal recorded from the conductor's position.",
        &["brass", "concert", "rehearsal"],
    ),
    (
        "Forest Stream",
        "",
        "Białowieża Forest",
        52.7,
        23.87,
        "A small stream in front, woodpeckers behind, wind high in the trees.",
        &["water", "nature", "birds"],
    ),
    (
        "Jazz Trio Live",
        "Marta Nowak Trio",
        "Jazz Club Tygmont, Warsaw",
        52.24,
        21.01,
        "Piano, double bass and drums around the mic; the audience behind.",
        &["jazz", "concert", "live"],
    ),
    (
        "Waves at Low Tide",
        "",
        "Porthcurno, Cornwall",
        50.04,
        -5.65,
        "Breaking waves in front, shingle rolling back, wind from the right.",
        &["sea", "water", "nature"],
    ),
    (
        "Gamelan Ensemble",
        "Gamelan Sekar Jaya",
        "Ubud, Bali",
        -8.51,
        115.26,
        "A full gamelan in a pavilion; each group of instruments has its own place in the circle.",
        &["gamelan", "world", "concert"],
    ),
    (
        "Cathedral Bells",
        "",
        "York Minster",
        53.96,
        -1.08,
        "Change ringing heard from the close, with traffic and pigeons nearby.",
        &["bells", "church", "city"],
    ),
    (
        "Night Frogs",
        "",
        "Camargue",
        43.52,
        4.5,
        "A chorus of tree frogs all around, a nightjar far off.",
        &["frogs", "night", "nature"],
    ),
    (
        "Piano in a Barn",
        "Paul Hodges",
        "Suffolk",
        52.19,
        1.0,
        "Solo piano pieces in a timber barn: a dry, warm room.",
        &["piano", "solo", "classical"],
    ),
    (
        "Fly-over",
        "",
        "RAF Coningsby",
        53.09,
        -0.17,
        "A light aircraft passes overhead from front to back.",
        &["aircraft", "transport", "fly-over"],
    ),
    (
        "Circling Bee",
        "",
        "Kew Gardens, London",
        51.48,
        -0.29,
        "A bumblebee circles the microphone twice: good for testing a decoder.",
        &["insects", "nature", "test"],
    ),
    (
        "Folk Session",
        "The Crown Session",
        "The Crown, Sheffield",
        53.38,
        -1.47,
        "Fiddles, whistles and a bodhrán around a pub table.",
        &["folk", "live", "people"],
    ),
];

/// (microphone, convention, order, layout, channels): what each microphone records.
pub(crate) const MICS: [(&str, Convention, i32, &str, i32); 7] = [
    ("Soundfield SPS200", Convention::Fuma, 1, "f", 4),
    ("Soundfield MKV", Convention::Fuma, 1, "f", 4),
    ("TetraMic", Convention::Ambix, 1, "f", 4),
    ("Sennheiser Ambeo VR", Convention::Ambix, 1, "f", 4),
    ("Zoom H3-VR", Convention::Ambix, 1, "f", 4),
    ("Core Sound OctoMic", Convention::Ambix, 2, "ff", 9),
    ("Soundfield ST450", Convention::Uhj, 1, "uhj", 2),
];

const RECORDERS: [&str; 4] = [
    "Sound Devices 744T",
    "Zoom F8n",
    "Tascam DR-680",
    "Sound Devices MixPre-6",
];
const LICENCE_KEYS: [&str; 5] = [
    "cc-by-4.0",
    "cc-by-sa-4.0",
    "cc-by-nc-4.0",
    "cc0-1.0",
    "all-rights-reserved",
];
const TAKES: [&str; 3] = ["", " (evening)", " (second session)"];

const COMMENTS: [(&str, &str); 6] = [
    (
        "Lovely",
        "Wonderful depth — on my square rig the birds really are above me.",
    ),
    (
        "",
        "Which decoder did you use for the preview? The image is very stable.",
    ),
    (
        "Great recording",
        "Thanks for sharing this under an open licence.",
    ),
    (
        "Height!",
        "The full-sphere version is striking on headphones with a binaural decoder.",
    ),
    ("", "I'd love to hear more from this place."),
    ("Question", "Was the mic upright or end-fire for this one?"),
];

/// Fills an empty database; returns how many recordings it made.
pub async fn fill(db: &DatabaseConnection) -> Result<usize, ServiceError> {
    if recordings::Entity::find().count(db).await? > 0 || users::Entity::find().count(db).await? > 0
    {
        return Err(ServiceError::Conflict(
            "The database already has users or recordings; demo data goes only into an empty one."
                .into(),
        ));
    }
    let mut rng = StdRng::seed_from_u64(2008);
    let password = Password::parse(DEMO_PASSWORD)?;
    let mut people = Vec::new();
    for (name, role) in USERS {
        let user = accounts::create_user(
            db,
            &Username::parse(name)?,
            &Email::parse(&format!("{name}@demo.ambisonia.invalid"))?,
            &password,
            role,
        )
        .await?;
        people.push(Viewer {
            user_id: user.id,
            username: user.username,
            role,
            csrf: String::new(),
        });
    }
    let uploaders: Vec<&Viewer> = people.iter().filter(|p| p.role == Role::Uploader).collect();

    let start = Utc
        .with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let mut made = Vec::new();
    for (take_no, take) in TAKES.iter().enumerate() {
        for (i, (title, artist, location, lat, lon, description, tags)) in PIECES.iter().enumerate()
        {
            let n = take_no * PIECES.len() + i;
            let (mic, convention, order, layout, channels) = MICS[(i + take_no * 3) % MICS.len()];
            let uploader = uploaders[(i + take_no) % uploaders.len()];
            let year = 2005 + ((i + take_no * 7) % 20) as i32;
            let recorded_on =
                NaiveDate::from_ymd_opt(year, (i % 12) as u32 + 1, (n % 27) as u32 + 1);
            let duration_ms = rng.gen_range(45_000..1_500_000_i64);
            let sample_rate = *[44_100, 48_000, 96_000].choose(&mut rng).unwrap_or(&48_000);
            let bits = *[16, 24, 24, 32].choose(&mut rng).unwrap_or(&24);
            let new = NewRecording {
                title: format!("{title}{take}"),
                artist: artist.to_string(),
                composer: String::new(),
                description: description.to_string(),
                location: location.to_string(),
                latitude: Some(*lat),
                longitude: Some(*lon),
                recorded_on,
                microphone: mic.to_string(),
                recorder: RECORDERS[n % RECORDERS.len()].to_string(),
                processing_notes: if convention == Convention::Ambix {
                    "A-format to B-format with the maker's calibration; exported as AmbiX.".into()
                } else {
                    String::new()
                },
                licence: LICENCE_KEYS[n % LICENCE_KEYS.len()].to_string(),
                uploader_id: uploader.user_id,
                tags: tags.iter().map(|t| t.to_string()).collect(),
                convention: Some(convention),
                order: Some(order),
                layout: Some(layout.to_string()),
                channels: Some(channels),
                sample_rate: Some(sample_rate),
                bit_depth: Some(bits),
                is_float: bits == 32,
                duration_ms: Some(duration_ms),
                size_bytes: Some(
                    duration_ms
                        * i64::from(sample_rate)
                        * i64::from(channels)
                        * i64::from(bits / 8)
                        / 1000,
                ),
                is_premium: n % 4 == 3,
                sha256: None,
                media_key: None,
            };
            let published_at = start + Duration::hours(n as i64 * 37);
            let w = Write::begin(db).await?;
            let (row, changed) =
                life::create(&w, new, Status::Published, Some(published_at)).await?;
            w.commit(changed).await?;
            made.push((row.id, row.slug, uploader.user_id));
        }
    }

    let listeners: Vec<&Viewer> = people.iter().collect();
    for (id, slug, uploader_id) in &made {
        let downloads = rng.gen_range(0..2_000_i64);
        let w = Write::begin(db).await?;
        let changed = life::seed_counts(&w, *id, downloads, downloads * 3).await?;
        w.commit(changed).await?;
        for who in listeners.iter().filter(|p| p.user_id != *uploader_id) {
            if rng.gen_bool(0.4) {
                let stars = Stars::parse(&rng.gen_range(2..=5).to_string())?;
                interactions::rate(db, who, slug, stars).await?;
            }
            if rng.gen_bool(0.12) {
                let (title, body) = COMMENTS[rng.gen_range(0..COMMENTS.len())];
                interactions::post_comment(db, who, slug, CommentText::parse(title, body)?).await?;
            }
        }
    }
    Ok(made.len())
}

/// Which of `media::synth::all()` is premium (the wood at dusk), so that the download gate
/// has something to show.
const PREMIUM_SOUND: usize = 2;

/// The synthesised recordings (`media::synth`), ingested exactly as uploads are, by the
/// demo sound recordist; `scratch` holds each file while it is ingested. Returns how many.
pub async fn sounds(
    db: &DatabaseConnection,
    store: &crate::store::MediaStore,
    scratch: &std::path::Path,
) -> Result<usize, ServiceError> {
    let uploader = users::Entity::find()
        .filter(users::Column::Username.eq("soundwalker"))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::internal("demo sound", "the demo uploader is missing"))?;
    std::fs::create_dir_all(scratch)
        .map_err(|e| ServiceError::internal("creating the scratch folder", e))?;
    let mut made = 0;
    let samples = media::synth::all();
    for (i, sample) in samples.into_iter().enumerate() {
        let file = crate::store::TempFile::new(scratch, "amb");
        std::fs::write(file.path(), &sample.file)
            .map_err(|e| ServiceError::internal("writing demo sound", e))?;
        let meta = NewRecording {
            title: sample.title.into(),
            location: sample.location.into(),
            description: sample.description.into(),
            licence: crate::Licence::DEFAULT.into(),
            microphone: "Synthesised (first-order encoder)".into(),
            tags: sample.tags.iter().map(|t| (*t).to_string()).collect(),
            uploader_id: uploader.id,
            is_premium: i == PREMIUM_SOUND,
            ..Default::default()
        };
        crate::uploads::ingest(
            db,
            store,
            crate::uploads::File::Local(file.path()),
            sample.convention,
            meta,
            Status::Published,
        )
        .await?;
        made += 1;
    }
    Ok(made)
}
