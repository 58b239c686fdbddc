//! `server demo-data --recordings N`: a catalog of N varied published recordings, made
//! quickly (rows by the hundred in one statement, a transaction per batch, the facet counts
//! recounted once at the end), so that anyone can reproduce the catalog benchmark at a
//! million recordings. Deterministic: the same N gives the same catalog.
//!
//! The words are chosen so that a search behaves as on a real catalog: a common word
//! (`forest`) is in about one title of sixty, a rare one in a few hundred of a million.

use chrono::{Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use crate::{
    Status, accounts,
    demo::MICS,
    entities::{recordings, users},
    error::ServiceError,
    facets,
    recordings::{Generated, NewRecording, life},
    write::{Changed, Write},
};

/// Rows in one INSERT: under SQLite's 32,766 bound parameters at 44 columns a row.
const BATCH: usize = 500;
const UPLOADERS: usize = 50;

const SUBJECTS: [&str; 60] = [
    "Dawn chorus",
    "Rain on a tin roof",
    "Harbour bells",
    "Night crickets",
    "Market square",
    "Cathedral organ",
    "Forest stream",
    "Thunderstorm",
    "Tram depot",
    "Beach at low tide",
    "Skylarks",
    "Windmill",
    "Steam train",
    "Choir rehearsal",
    "Frogs at dusk",
    "Glacier melt",
    "Fish market",
    "Bamboo grove",
    "Street musicians",
    "Waterfall",
    "Owls",
    "Ferry crossing",
    "Snow on pines",
    "Cicadas",
    "Underground station",
    "Church bells",
    "Reed bed",
    "Gamelan",
    "Football crowd",
    "Cave drips",
    "Geese overhead",
    "Foundry",
    "Desert wind",
    "Seals",
    "Village fete",
    "Brass band",
    "Hailstorm",
    "Stone quarry",
    "Monastery chant",
    "Heron colony",
    "Night traffic",
    "Children's playground",
    "Clock tower",
    "Ice cracking",
    "Cattle market",
    "Woodpeckers",
    "Harbour cranes",
    "Tide pool",
    "Nightingale",
    "Mountain hut",
    "Jazz club",
    "Lighthouse foghorn",
    "Carnival",
    "Kelp forest",
    "Sheep shearing",
    "Rookery",
    "Sawmill",
    "Pipe band",
    "Wind chimes",
    "Bullfrogs",
];
const PLACES: [&str; 48] = [
    "Wytham Woods",
    "Lisbon",
    "Reykjavik",
    "the Camargue",
    "Kyoto",
    "Dartmoor",
    "Bergen",
    "the Danube delta",
    "Marrakesh",
    "Hobart",
    "the Cairngorms",
    "Valparaíso",
    "Tromsø",
    "Bruges",
    "the Atacama",
    "Hokkaido",
    "Connemara",
    "Tallinn",
    "the Okavango",
    "Quebec",
    "Sicily",
    "the Black Forest",
    "Kraków",
    "Zanzibar",
    "Galway",
    "the Hebrides",
    "Oaxaca",
    "Tasmania",
    "Lapland",
    "Istanbul",
    "the Fens",
    "Ljubljana",
    "Patagonia",
    "Bali",
    "Snowdonia",
    "Porto",
    "Hanoi",
    "the Dolomites",
    "Cornwall",
    "Seville",
    "Lofoten",
    "Yorkshire",
    "Provence",
    "Kerala",
    "Donegal",
    "Tuscany",
    "Iceland's west fjords",
    "Skye",
];
const MOODS: [&str; 24] = [
    "early", "distant", "close", "quiet", "busy", "windy", "wet", "frosty", "late", "calm",
    "stormy", "sunlit", "hazy", "deep", "bright", "muffled", "echoing", "sparse", "dense",
    "gentle", "restless", "still", "humid", "crisp",
];
const TAGS: [&str; 40] = [
    "birds",
    "nature",
    "water",
    "rain",
    "city",
    "transport",
    "music",
    "voices",
    "bells",
    "wind",
    "insects",
    "sea",
    "night",
    "morning",
    "forest",
    "industry",
    "church",
    "crowd",
    "animals",
    "weather",
    "ice",
    "river",
    "market",
    "live",
    "folk",
    "train",
    "harbour",
    "mountains",
    "wetland",
    "choir",
    "organ",
    "festival",
    "desert",
    "cave",
    "snow",
    "park",
    "machines",
    "farm",
    "jazz",
    "storm",
];
const LICENCES: [&str; 5] = [
    "cc-by-4.0",
    "cc-by-sa-4.0",
    "cc-by-nc-4.0",
    "cc0-1.0",
    "all-rights-reserved",
];

/// Adds generated published recordings until the catalog holds `target` of them (none if it
/// already does). `password_hash` is stored for the generated recordists' accounts (one
/// hash for all: a benchmark fixture, not people). Returns how many it made.
#[tracing::instrument(skip_all, fields(target))]
pub async fn fill_to(
    db: &DatabaseConnection,
    target: u64,
    password_hash: &str,
) -> Result<u64, ServiceError> {
    let have = recordings::Entity::find()
        .filter(recordings::Column::Status.eq(Status::Published))
        .count(db)
        .await?;
    if have >= target {
        return Ok(0);
    }
    let wanted = target - have;
    let uploaders = recordists(db, password_hash).await?;
    let tag_ids = tag_ids(db).await?;
    // Slugs end in a serial past every id there is, so they never collide.
    let max_id: Option<i32> = recordings::Entity::find()
        .select_only()
        .column_as(recordings::Column::Id.max(), "max_id")
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let first_id = u64::try_from(max_id.unwrap_or(0)).unwrap_or(0) + 1;
    let mut rng = StdRng::seed_from_u64(target);
    let start = Utc
        .with_ymd_and_hms(2008, 1, 1, 8, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    // Fifteen years of publishing, spread evenly.
    let step_s = (15 * 365 * 86_400 / wanted.max(1)).max(1) as i64;
    let mut made = 0u64;
    while made < wanted {
        let n = (wanted - made).min(BATCH as u64) as usize;
        let mut rows = Vec::with_capacity(n);
        for k in 0..n {
            let serial = first_id + made + k as u64;
            let subject = SUBJECTS[rng.gen_range(0..SUBJECTS.len())];
            let place = PLACES[rng.gen_range(0..PLACES.len())];
            let mood = MOODS[rng.gen_range(0..MOODS.len())];
            let title = format!("{subject}, {place}");
            let description = format!(
                "A {mood} take: {} recorded in {place} with the microphone at head height.",
                subject.to_lowercase()
            );
            let (mic, convention, order, layout, channels) = MICS[rng.gen_range(0..MICS.len())];
            // A few tags, the popular ones far more often (roughly Zipf).
            let mut chosen: Vec<usize> = (0..rng.gen_range(1..=4))
                .map(|_| {
                    let r: f64 = rng.r#gen();
                    ((r * r * TAGS.len() as f64) as usize).min(TAGS.len() - 1)
                })
                .collect();
            chosen.sort_unstable();
            chosen.dedup();
            let names: Vec<String> = chosen.iter().map(|i| TAGS[*i].to_owned()).collect();
            let duration_ms = rng.gen_range(20_000..5_400_000_i64);
            let sample_rate = *[44_100, 48_000, 96_000].choose(&mut rng).unwrap_or(&48_000);
            let bits = *[16, 24, 24, 32].choose(&mut rng).unwrap_or(&24);
            let downloads = (rng.r#gen::<f64>().powi(4) * 5_000.0) as i64;
            let ratings = rng.gen_range(0..40);
            let published = start + Duration::seconds(step_s * (made + k as u64) as i64);
            let slug = format!(
                "{}-{serial}",
                crate::Slug::from_title(&title)
                    .map_or("recording".to_owned(), |s| s.as_str().to_owned())
            );
            rows.push(Generated {
                new: NewRecording {
                    title,
                    description,
                    location: place.to_owned(),
                    recorded_on: Some(published.date_naive()),
                    microphone: mic.to_owned(),
                    licence: LICENCES[rng.gen_range(0..LICENCES.len())].to_owned(),
                    uploader_id: uploaders[rng.gen_range(0..uploaders.len())],
                    tags: names,
                    convention: Some(convention),
                    order: Some(order),
                    layout: Some(layout.to_owned()),
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
                    is_premium: serial % 4 == 3,
                    ..NewRecording::default()
                },
                slug,
                published_at: published,
                downloads,
                plays: downloads * 3,
                rating_count: ratings,
                rating_avg: if ratings > 0 {
                    f64::from(rng.gen_range(20..=50)) / 10.0
                } else {
                    0.0
                },
                tag_ids: chosen.iter().map(|t| tag_ids[*t]).collect(),
            });
        }
        let w = Write::begin(db).await?;
        life::insert_generated(&w, rows).await?;
        // Named once, at the end (the facet recount names every list).
        w.commit(Changed::nothing_shown()).await?;
        made += n as u64;
        if made % 100_000 < BATCH as u64 {
            tracing::info!(made, wanted, "generating recordings");
        }
    }
    // PostgreSQL plans by its statistics, which a bulk load leaves stale until autovacuum
    // comes round: measured at 100k right after the load, the ranked search took 90 ms and
    // the two-filter search 311 ms; after ANALYZE, 0.6 ms and 0.7 ms for their rows. An
    // operator analyzes after a bulk load; so does the generator. (SQLite keeps no
    // statistics unless asked, and the catalog's SQLite plans do not lean on them.)
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("ANALYZE").await?;
    }
    // The counts once, and with them every list of recordings is named to the replicas.
    facets::recount(db).await?;
    Ok(made)
}

/// The generated recordists: `recordist01` … `recordist50`, made once.
async fn recordists(
    db: &DatabaseConnection,
    password_hash: &str,
) -> Result<Vec<i32>, ServiceError> {
    let w = Write::begin(db).await?;
    let mut ids = Vec::with_capacity(UPLOADERS);
    for n in 1..=UPLOADERS {
        let name = format!("recordist{n:02}");
        let id = match users::Entity::find()
            .filter(users::Column::Username.eq(name.as_str()))
            .one(&w)
            .await?
        {
            Some(u) => u.id,
            None => accounts::create_generated(&w, &name, password_hash).await?,
        };
        ids.push(id);
    }
    // Profiles with no recordings yet: nothing shown.
    w.commit(Changed::nothing_shown()).await?;
    Ok(ids)
}

/// The ids of [`TAGS`], in order, made where missing.
async fn tag_ids(db: &DatabaseConnection) -> Result<Vec<i32>, ServiceError> {
    let w = Write::begin(db).await?;
    let ids = life::tag_ids(&w, &TAGS).await?;
    // Tags with no recordings yet: nothing shown.
    w.commit(Changed::nothing_shown()).await?;
    Ok(ids)
}
