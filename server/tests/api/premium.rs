//! Premium accounts and tips against the real replica, with an in-process stand-in for
//! Stripe's API at the HTTP level (the site's async-stripe client calls it; it posts signed
//! events to the site's webhook): subscribing, the success page, cancelling at period end,
//! failed cards, events twice and out of order, forged events, the download gate, tips and
//! their refunds and disputes, and the payouts.

use domain::{
    Role,
    billing::SubscriptionStatus,
    entities::{entitlements, recordings, stripe_events, tip_ledger},
    payments,
};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use stripe_standin::StandIn;

use crate::{
    both_backends,
    helpers::{Backend, Browser, TestApp, location, redirect_error, sample},
    uploads::{fuma_file, processed, uploader},
};

const SECRET: &str = "whsec_standin_secret";

/// A site with payments on, and the stand-in that is its Stripe.
async fn paid_site(backend: Backend) -> (TestApp, StandIn) {
    let stripe = StandIn::start(0, SECRET).await.expect("stand-in starts");
    let app = TestApp::spawn_paid(backend, stripe.url(), SECRET).await;
    stripe.set_webhook_url(&app.url("/stripe/webhook"));
    (app, stripe)
}

async fn premium(app: &TestApp, user: i32) -> bool {
    payments::membership(&app.db, user)
        .await
        .expect("membership")
        .premium
}

async fn entitlement(app: &TestApp, user: i32) -> entitlements::Model {
    entitlements::Entity::find_by_id(user)
        .one(&app.db)
        .await
        .expect("read")
        .expect("an entitlement row")
}

/// Posts the plan form; the Checkout Session id from the redirect to Stripe.
async fn start_checkout(app: &TestApp, stripe: &StandIn, who: &mut Browser, plan: &str) -> String {
    let token = app.form_token("/premium", who).await;
    let res = app
        .post_form(
            "/api/subscribe",
            "/premium",
            &[("csrf", &token), ("plan", plan)],
            who,
        )
        .await;
    let to = location(&res);
    assert!(
        to.starts_with(&format!("{}/checkout/cs_", stripe.url())),
        "sent to Stripe Checkout, not {to:?} ({:?})",
        redirect_error(&res)
    );
    to.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Pays on the checkout page; the path Stripe sends the browser back to.
async fn pay(stripe: &StandIn, session: &str) -> String {
    let back = stripe.pay(session).await.expect("a session to pay");
    back.trim_start_matches("http://127.0.0.1").to_owned()
}

async fn events_stored(app: &TestApp) -> u64 {
    stripe_events::Entity::find()
        .count(&app.db)
        .await
        .expect("count")
}

async fn subscribing_makes_premium_at_once_and_events_keep_it_true(backend: Backend) {
    let (app, stripe) = paid_site(backend).await;
    let lena = app.user("lena", Role::Listener).await;
    let mut browser = app.login("lena").await;

    // The plans, with Stripe's prices.
    let (status, html) = app.get_text("/premium", &browser).await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        "$5.00 a month",
        "$14.95 every three months",
        "$50.00 a year",
    ] {
        assert!(html.contains(text), "{text} offered");
    }
    assert!(!premium(&app, lena).await);

    // A checkout left unpaid, then another: one Stripe customer for both.
    stripe.hold_events(true);
    let abandoned = start_checkout(&app, &stripe, &mut browser, "yearly").await;
    let session = start_checkout(&app, &stripe, &mut browser, "monthly").await;
    assert_ne!(abandoned, session);
    assert_eq!(stripe.customers().len(), 1, "the customer is made once");
    let back = pay(&stripe, &session).await;
    assert!(
        back.starts_with("/premium/welcome?session_id=cs_"),
        "{back}"
    );

    // The success page asks Stripe: premium at once, with the webhook still on its way.
    let (status, html) = app.get_text(&back, &browser).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("data-testid=\"premium-welcome\""), "{html}");
    assert!(premium(&app, lena).await);
    let e = entitlement(&app, lena).await;
    assert_eq!(e.status, Some(SubscriptionStatus::Active));
    assert_eq!((e.amount, e.currency.as_deref()), (Some(500), Some("usd")));
    assert_eq!(
        e.stripe_customer_id.as_deref(),
        Some(stripe.customers()[0].id.as_str())
    );

    // Someone else's session on the success page shows nothing of it.
    let other = app.register("nosy").await;
    let (status, _) = app.get_text(&back, &other).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Renews on"), "the renewal date is shown");

    // The late webhooks: handled once, then duplicates.
    let events = stripe.take_events();
    assert_eq!(
        events.len(),
        3,
        "checkout completed, subscription created, invoice paid"
    );
    for e in &events {
        assert_eq!(stripe.deliver(e).await, 200);
    }
    let stored = events_stored(&app).await;
    assert_eq!(stored, 3);
    for e in &events {
        assert_eq!(stripe.deliver(e).await, 200, "a retry is answered 200");
    }
    assert_eq!(events_stored(&app).await, stored, "and changes nothing");
    stripe.hold_events(false);

    // Already subscribed: a second subscription is refused, before Stripe is asked.
    let token = app.form_token("/premium", &mut browser).await;
    let res = app
        .post_form(
            "/api/subscribe",
            "/premium",
            &[("csrf", &token), ("plan", "yearly")],
            &mut browser,
        )
        .await;
    assert!(
        redirect_error(&res).is_some_and(|e| e.contains("already have a subscription")),
        "{:?}",
        location(&res)
    );

    // The account page: plan, price, renewal, and the way to the Customer Portal.
    let (_, html) = app.get_text("/account", &browser).await;
    assert!(html.contains("data-testid=\"premium-badge\""));
    assert!(html.contains("$5.00 a month"));
    let token = app.form_token("/account", &mut browser).await;
    let res = app
        .post_form(
            "/api/manage-billing",
            "/account",
            &[("csrf", &token)],
            &mut browser,
        )
        .await;
    assert!(
        location(&res).starts_with(&format!("{}/portal/cus_", stripe.url())),
        "{}",
        location(&res)
    );

    // Cancelled at period end: still premium, "ends on"; the period passes: not premium.
    let sub = e.subscription_id.clone().expect("subscription id");
    stripe
        .change_subscription(&sub, |s| s.cancel_at_period_end = true)
        .await;
    assert!(
        premium(&app, lena).await,
        "premium to the end of the period paid for"
    );
    let (_, html) = app.get_text("/account", &browser).await;
    assert!(html.contains("Cancelled: ends on"), "{html}");
    stripe
        .change_subscription(&sub, |s| s.period_end = s.period_start - 1)
        .await;
    assert!(
        !premium(&app, lena).await,
        "not after the period (before Stripe deletes it)"
    );
    stripe
        .change_subscription(&sub, |s| s.status = "canceled".into())
        .await;
    assert!(!premium(&app, lena).await);
    assert_eq!(
        entitlement(&app, lena).await.status,
        Some(SubscriptionStatus::Canceled)
    );
    let (_, html) = app.get_text("/account", &browser).await;
    assert!(html.contains("data-testid=\"not-premium\""));
    // And then subscribing again is allowed, with the same customer.
    start_checkout(&app, &stripe, &mut browser, "quarterly").await;
    assert_eq!(stripe.customers().len(), 1, "lena's, made once");
}

async fn a_failed_card_keeps_premium_with_a_banner_until_stripe_gives_up(backend: Backend) {
    let (app, stripe) = paid_site(backend).await;
    let mia = app.user("mia", Role::Listener).await;
    let mut browser = app.login("mia").await;
    let session = start_checkout(&app, &stripe, &mut browser, "quarterly").await;
    pay(&stripe, &session).await;
    assert!(
        premium(&app, mia).await,
        "the webhooks alone made mia premium"
    );
    let sub = entitlement(&app, mia).await.subscription_id.expect("sub");

    stripe
        .change_subscription(&sub, |s| s.status = "past_due".into())
        .await;
    stripe.invoice_event("invoice.payment_failed", &sub).await;
    assert!(
        premium(&app, mia).await,
        "past_due stays premium while Stripe retries"
    );
    let (_, html) = app.get_text("/account", &browser).await;
    assert!(
        html.contains("data-testid=\"fix-card\""),
        "the banner asks to fix the card"
    );
    assert!(html.contains("data-testid=\"premium-badge\""));

    stripe
        .change_subscription(&sub, |s| s.status = "unpaid".into())
        .await;
    assert!(!premium(&app, mia).await, "unpaid is not premium");
    let (_, html) = app.get_text("/account", &browser).await;
    assert!(!html.contains("data-testid=\"fix-card\""));

    // The card is fixed: Stripe pays the invoice and the subscription is active again.
    stripe
        .change_subscription(&sub, |s| s.status = "active".into())
        .await;
    stripe.invoice_event("invoice.paid", &sub).await;
    assert!(premium(&app, mia).await);
}

/// A subscriber disputes the payment with their bank: premium is suspended at once (the
/// account page says why), stays so if a late event about the dispute comes after its
/// decision, and comes back when Stripe closes it in the site's favour; a lost dispute
/// keeps it suspended to the end of the period.
async fn a_disputed_subscription_payment_suspends_premium_until_won(backend: Backend) {
    let (app, stripe) = paid_site(backend).await;
    let sam = app.user("sam", Role::Listener).await;
    let mut browser = app.login("sam").await;
    let session = start_checkout(&app, &stripe, &mut browser, "monthly").await;
    pay(&stripe, &session).await;
    assert!(premium(&app, sam).await);
    let sub = entitlement(&app, sam).await.subscription_id.expect("sub");
    let paid = stripe.payments_of_subscription(&sub);
    assert_eq!(paid.len(), 1, "the first invoice's payment");

    // Opened: not premium, and the page says why; the subscription itself is untouched.
    stripe.hold_events(true);
    let dispute = stripe.dispute(&paid[0], 500).await.expect("a dispute");
    let opened = stripe.take_events();
    stripe.hold_events(false);
    for e in &opened {
        assert_eq!(stripe.deliver(e).await, 200);
    }
    assert!(
        !premium(&app, sam).await,
        "suspended while the dispute is open"
    );
    assert_eq!(
        entitlement(&app, sam).await.status,
        Some(SubscriptionStatus::Active)
    );
    let (_, html) = app.get_text("/account", &browser).await;
    assert!(html.contains("data-testid=\"disputed\""), "{html}");
    assert!(html.contains("data-testid=\"not-premium\""));

    // Won: premium is back; the opening told again, late, changes nothing.
    stripe.close_dispute(&dispute, "won").await;
    assert!(premium(&app, sam).await, "the site won the dispute");
    let late = opened[0].replace("\"id\":\"evt_", "\"id\":\"evt_late");
    assert_eq!(stripe.deliver(&late).await, 200);
    assert!(premium(&app, sam).await, "a decided dispute stays decided");
    let (_, html) = app.get_text("/account", &browser).await;
    assert!(!html.contains("data-testid=\"disputed\""));

    // Another dispute, lost: suspended to the end of the period it was for.
    let second = stripe.dispute(&paid[0], 500).await.expect("a dispute");
    stripe.close_dispute(&second, "lost").await;
    assert!(
        !premium(&app, sam).await,
        "the bank sided with the card holder"
    );
    let disputes = domain::entities::disputes::Entity::find()
        .all(&app.db)
        .await
        .expect("disputes");
    let lost = disputes.iter().find(|d| d.id == second).expect("recorded");
    assert_eq!(lost.state, domain::billing::DisputeState::Lost);
    assert_eq!(
        lost.suspends_until,
        entitlement(&app, sam).await.current_period_end
    );
}

async fn events_in_any_order_or_twice_end_in_the_same_state(backend: Backend) {
    let (app, stripe) = paid_site(backend).await;
    let noor = app.user("noor", Role::Listener).await;
    let mut browser = app.login("noor").await;
    stripe.hold_events(true);
    let session = start_checkout(&app, &stripe, &mut browser, "monthly").await;
    pay(&stripe, &session).await;
    let sub = stripe.subscriptions()[0].id.clone();
    stripe
        .change_subscription(&sub, |s| s.cancel_at_period_end = true)
        .await;
    stripe
        .change_subscription(&sub, |s| s.status = "canceled".into())
        .await;
    let events = stripe.take_events();
    assert_eq!(events.len(), 5);

    // Newest first: the first event handled already reads the final state from Stripe.
    for e in events.iter().rev() {
        assert_eq!(stripe.deliver(e).await, 200);
    }
    let after_reverse = entitlement(&app, noor).await;
    for e in &events {
        assert_eq!(stripe.deliver(e).await, 200);
    }
    let after_again = entitlement(&app, noor).await;
    assert_eq!(after_reverse.status, Some(SubscriptionStatus::Canceled));
    assert_eq!(
        (
            after_again.status,
            after_again.cancel_at_period_end,
            after_again.current_period_end
        ),
        (
            after_reverse.status,
            after_reverse.cancel_at_period_end,
            after_reverse.current_period_end
        )
    );
    assert!(!premium(&app, noor).await);
    assert_eq!(events_stored(&app).await, 5, "each event stored once");

    // An event Stripe cannot answer for just now (here: a subscription it does not know):
    // 500, so that Stripe retries, and not stored, so that the retry is handled.
    let customer = stripe.customers()[0].id.clone();
    let failing = stripe.event(
        "customer.subscription.updated",
        serde_json::json!({ "id": "sub_gone", "object": "subscription", "customer": customer }),
    );
    let (status, answer) = stripe
        .post_event(&failing, Some(&stripe.sign(&failing, None)))
        .await;
    assert_eq!(status, 500, "{answer}");
    assert!(!answer.contains("sk_test"), "no secret in the answer");
    assert_eq!(events_stored(&app).await, 5);

    // An event of a type the site does not use: 200, ignored, not stored.
    let other = stripe.event("customer.created", serde_json::json!({ "id": "cus_x" }));
    assert_eq!(stripe.deliver(&other).await, 200);
    assert_eq!(events_stored(&app).await, 5);
}

async fn forged_stale_altered_and_unsigned_events_are_refused_and_change_nothing(backend: Backend) {
    let (app, stripe) = paid_site(backend).await;
    let ola = app.user("ola", Role::Listener).await;
    let mut browser = app.login("ola").await;
    let session = start_checkout(&app, &stripe, &mut browser, "monthly").await;
    pay(&stripe, &session).await;
    assert!(premium(&app, ola).await);
    let sub = stripe.subscriptions()[0].id.clone();

    // In Stripe the subscription ends; the events saying so are held back.
    stripe.hold_events(true);
    stripe
        .change_subscription(&sub, |s| s.status = "canceled".into())
        .await;
    let genuine = stripe.take_events().pop().expect("the deleted event");
    let before = (events_stored(&app).await, entitlement(&app, ola).await);
    let now = chrono::Utc::now().timestamp();

    let forged = {
        let other = StandIn::start(0, "whsec_someone_else")
            .await
            .expect("other");
        other.sign(&genuine, None)
    };
    let stale = stripe.sign(&genuine, Some(now - 301));
    let altered = genuine.replace("\"livemode\":false", "\"livemode\":true ");
    let attempts: [(&str, &str, Option<String>); 5] = [
        ("forged signature", &genuine, Some(forged)),
        ("stale timestamp", &genuine, Some(stale)),
        ("altered body", &altered, Some(stripe.sign(&genuine, None))),
        ("missing header", &genuine, None),
        ("garbage header", &genuine, Some("t=abc,v1=zz".into())),
    ];
    for (what, body, signature) in attempts {
        let (status, answer) = stripe.post_event(body, signature.as_deref()).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert!(answer.contains("error"), "{what}: says why ({answer})");
        assert_eq!(
            (events_stored(&app).await, entitlement(&app, ola).await),
            before,
            "{what} changed nothing"
        );
    }
    assert!(premium(&app, ola).await);
    // The genuine event, signed as Stripe signs it, is taken.
    assert_eq!(stripe.deliver(&genuine).await, 200);
    assert!(!premium(&app, ola).await);
}

/// Who may download what: premium recordings' originals and renditions for premium
/// members, their uploader, editors and admins; previews and free recordings for everyone.
async fn premium_downloads_are_gated_where_they_are_answered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    app.trust(app.user_id("paul").await).await;
    let mut slugs = Vec::new();
    // Different lengths: the same file twice would be refused as a duplicate.
    for (title, name, frames) in [
        ("Premium harbour", "p.amb", 4_800),
        ("Free harbour", "f.amb", 4_900),
    ] {
        let res = app
            .upload(&paul, &[("title", title)], name, fuma_file(frames))
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        slugs.push(location(&res).trim_start_matches("/recordings/").to_owned());
    }
    let gated = processed(&app, &slugs[0]).await;
    processed(&app, &slugs[1]).await;
    recordings::ActiveModel {
        id: Set(gated.id),
        is_premium: Set(true),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("made premium");

    app.user("lis", Role::Listener).await;
    let pam = app.user("pam", Role::Listener).await;
    app.user("eddie", Role::Editor).await;
    domain::accounts::grant_premium(
        &app.db,
        pam,
        chrono::Utc::now() + chrono::Duration::days(30),
    )
    .await
    .expect("grant");
    let who = [
        ("anonymous", Browser::default(), false),
        ("listener", app.login("lis").await, false),
        ("premium listener", app.login("pam").await, true),
        ("uploader", app.login("paul").await, true),
        ("editor", app.login("eddie").await, true),
    ];
    let forms = [
        "",
        "?format=ambix",
        "?format=ambix-48k",
        "?format=binaural",
        "?format=uhj",
        "?format=5.1",
    ];
    for (i, slug) in slugs.iter().enumerate() {
        let is_premium = i == 0;
        for (name, browser, allowed) in &who {
            let counted_before = count_of(&app, slug).await;
            for form in forms {
                let res = app
                    .get(&format!("/recordings/{slug}/download{form}"), browser)
                    .await;
                let status = res.status();
                let body = res.text().await.unwrap_or_default();
                if !is_premium || *allowed {
                    assert_eq!(status, StatusCode::OK, "{name} {slug}{form}");
                } else {
                    let expected = if *name == "anonymous" {
                        StatusCode::UNAUTHORIZED
                    } else {
                        StatusCode::FORBIDDEN
                    };
                    assert_eq!(status, expected, "{name} {slug}{form}");
                    assert!(
                        body.contains("premium recording"),
                        "{name}: says why: {body}"
                    );
                    assert!(
                        body.contains("href=\"/premium\""),
                        "{name}: links to the plans"
                    );
                }
            }
            let counted = count_of(&app, slug).await - counted_before;
            // Every form by one visitor within the hour counts once.
            let expected = if !is_premium || *allowed { 1 } else { 0 };
            assert_eq!(counted, expected, "{name} {slug}: downloads counted");
            // Previews are free for everyone.
            let res = app
                .get(&format!("/recordings/{slug}/preview.ogg"), browser)
                .await;
            assert_eq!(
                res.status(),
                StatusCode::OK,
                "{name}: the preview of {slug}"
            );
        }
    }
    // The recording page says so, and stays cacheable for everyone.
    let (_, html) = app
        .get_text(&format!("/recordings/{}", slugs[0]), &Browser::default())
        .await;
    assert!(html.contains("data-testid=\"premium-note\""));
    // Payments are off on this site: the page says so; revoking ends a grant.
    let (_, html) = app.get_text("/premium", &who[2].1).await;
    assert!(html.contains("data-testid=\"payments-off\"") && html.contains("premium-badge"));
    domain::accounts::revoke_premium(&app.db, pam)
        .await
        .expect("revoke");
    let res = app
        .get(&format!("/recordings/{}/download", slugs[0]), &who[2].1)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// Seconds and channels of an Ogg Vorbis stream, decoded.
fn decoded(ogg: &[u8]) -> (f64, usize) {
    let mut d = vorbis_rs::VorbisDecoder::new(std::io::Cursor::new(ogg.to_vec()))
        .unwrap_or_else(|e| panic!("an Ogg Vorbis stream: {e}"));
    let (rate, channels) = (d.sampling_frequency().get(), d.channels().get());
    let mut frames = 0usize;
    while let Some(block) = d.decode_audio_block().unwrap_or_else(|e| panic!("{e}")) {
        frames += block.samples()[0].len();
    }
    (frames as f64 / f64::from(rate), usize::from(channels))
}

/// A premium recording's previews: its first minute for anyone without premium (decoded to
/// count it), shareable by caches and filed under the recording; the whole for a premium
/// member, kept private.
async fn premium_previews_are_an_excerpt_without_premium(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    app.trust(app.user_id("paul").await).await;
    let spec = media::wav::Spec {
        channels: 4,
        sample_rate: 8_000,
        bits: 16,
        float: false,
        sub_format: Some(media::wav::GUID_AMB_PCM),
        channel_mask: 0,
    };
    let seventy_seconds = crate::uploads::file(media::wav::Container::Riff, &spec, 8_000 * 70);
    let res = app
        .upload(
            &paul,
            &[("title", "Long harbour")],
            "long.amb",
            seventy_seconds,
        )
        .await;
    let slug = location(&res).trim_start_matches("/recordings/").to_owned();
    let row = processed(&app, &slug).await;
    recordings::ActiveModel {
        id: Set(row.id),
        is_premium: Set(true),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("made premium");
    let pam = app.user("pam", Role::Listener).await;
    domain::accounts::grant_premium(&app.db, pam, chrono::Utc::now() + chrono::Duration::days(3))
        .await
        .expect("grant");
    app.user("lis", Role::Listener).await;
    let cases = [
        ("anonymous", Browser::default(), false),
        ("a listener", app.login("lis").await, false),
        ("a premium member", app.login("pam").await, true),
    ];
    for (who, browser, whole) in &cases {
        for (file, channels) in [("preview.ogg", 2), ("spatial.ogg", 4)] {
            let res = app
                .get(&format!("/recordings/{slug}/{file}"), browser)
                .await;
            assert_eq!(res.status(), StatusCode::OK, "{who} {file}");
            let cache = res
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let keys = res
                .headers()
                .get("surrogate-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = res.bytes().await.expect("a body");
            let (seconds, got_channels) = decoded(&body);
            assert_eq!(got_channels, channels, "{who} {file}");
            if *whole {
                assert!((69.9..70.1).contains(&seconds), "{who} {file}: {seconds} s");
                assert_eq!(cache, "private, no-store", "{who} {file}");
            } else {
                let limit = f64::from(domain::billing::PREMIUM_EXCERPT_S);
                assert!(
                    (limit..limit + 1.5).contains(&seconds),
                    "{who} {file}: {seconds} s"
                );
                if *who == "anonymous" {
                    assert!(cache.starts_with("public, max-age=0, s-maxage="), "{cache}");
                    assert_eq!(keys, format!("recording:{}", row.id));
                }
            }
        }
    }
    // The excerpt answers a range as an original does.
    let res = reqwest::Client::new()
        .get(app.url(&format!("/recordings/{slug}/preview.ogg")))
        .header("range", "bytes=4-11")
        .send()
        .await
        .expect("answered");
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let total = res
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes 4-11/"))
        .and_then(|t| t.parse::<u64>().ok())
        .expect("a content range");
    assert!(
        total
            < row
                .preview_bytes
                .and_then(|b| u64::try_from(b).ok())
                .unwrap_or(0)
    );
    assert_eq!(res.bytes().await.map(|b| b.len()).unwrap_or(0), 8);
    // The podcast MP3 likewise: its first 60 seconds in whole frames for everyone else
    // (what the feed's enclosure says), the whole for a premium member; ranges answered.
    let excerpt = media::mp3::excerpt_len(
        row.podcast_bytes
            .and_then(|b| u64::try_from(b).ok())
            .unwrap_or(0),
        u64::from(domain::billing::PREMIUM_EXCERPT_S),
    );
    assert_eq!(excerpt, 60 * media::mp3::BYTES_PER_SECOND);
    for (who, browser, whole) in &cases {
        let res = app
            .get(&format!("/recordings/{slug}/binaural.mp3"), browser)
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{who}");
        let len = res.bytes().await.map(|b| b.len() as u64).unwrap_or(0);
        if *whole {
            assert!(len > excerpt, "{who}: the whole ({len} bytes)");
        } else {
            assert_eq!(len, excerpt, "{who}");
        }
    }
    let res = reqwest::Client::new()
        .get(app.url(&format!("/recordings/{slug}/binaural.mp3")))
        .header("range", "bytes=576-1151")
        .send()
        .await
        .expect("answered");
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        crate::helpers::header_of(&res, "content-range"),
        format!("bytes 576-1151/{excerpt}")
    );
    let frame = res.bytes().await.expect("a frame");
    assert_eq!(&frame[..2], &[0xFF, 0xFB], "a frame of its own");
    // The page says so.
    let (_, html) = app
        .get_text(&format!("/recordings/{slug}"), &Browser::default())
        .await;
    assert!(
        html.contains("the previews play their first 60 seconds"),
        "{html}"
    );
}

async fn count_of(app: &TestApp, slug: &str) -> i64 {
    app.flush_downloads().await;
    domain::recordings::by_slug(&app.db, slug)
        .await
        .expect("row")
        .download_count
}

/// Posts the tip form on the recording's page; the answer.
async fn tip(app: &TestApp, slug: &str, amount: &str, who: &mut Browser) -> reqwest::Response {
    let page = format!("/recordings/{slug}");
    let token = app.form_token(&page, who).await;
    app.post_form(
        "/api/tip",
        &page,
        &[("csrf", &token), ("slug", slug), ("amount", amount)],
        who,
    )
    .await
}

async fn tips_refunds_and_disputes_are_ledger_lines_in_minor_units(backend: Backend) {
    let (app, stripe) = paid_site(backend).await;
    let paul = app.user("paul", Role::Uploader).await;
    let (_, slug) = app.recording(sample("Dawn chorus", paul)).await;
    app.user("lena", Role::Listener).await;
    let mut lena = app.login("lena").await;
    let page = format!("/recordings/{slug}");

    // Refused amounts say why and reach no checkout.
    for bad in ["0.50", "abc", "501", "5.555"] {
        let res = tip(&app, &slug, bad, &mut lena).await;
        assert!(
            redirect_error(&res).is_some_and(|e| e.contains("tip")),
            "{bad}: {}",
            location(&res)
        );
    }
    let own = app.login("paul").await;
    let res = tip(&app, &slug, "5", &mut own.clone()).await;
    assert!(redirect_error(&res).is_some_and(|e| e.contains("cannot tip yourself")));
    assert!(stripe.payments().is_empty());

    // A $5 tip and a $10 tip, paid.
    let mut intents = Vec::new();
    for amount in ["5", "10.00"] {
        let res = tip(&app, &slug, amount, &mut lena).await;
        let to = location(&res);
        assert!(
            to.starts_with(&format!("{}/checkout/", stripe.url())),
            "{to}"
        );
        let back = pay(&stripe, to.rsplit('/').next().unwrap_or_default()).await;
        assert_eq!(back, format!("{page}?tipped=1"));
        intents.push(
            stripe
                .payments()
                .iter()
                .map(|p| p.intent.clone())
                .max()
                .expect("pi"),
        );
    }
    assert_eq!(stripe.customers().len(), 1, "both tips by one customer");
    let (_, html) = app.get_text(&format!("{page}?tipped=1"), &lena).await;
    assert!(html.contains("data-testid=\"tip-thanks\""));

    // Half of the first refunded (twice told), the second disputed whole.
    stripe.hold_events(true);
    stripe.refund(&intents[0], 250).await;
    stripe.dispute(&intents[1], 1000).await;
    let events = stripe.take_events();
    for e in events.iter().chain(events.iter()) {
        assert_eq!(stripe.deliver(e).await, 200);
    }
    let mut lines = tip_ledger::Entity::find()
        .all(&app.db)
        .await
        .expect("ledger");
    lines.sort_by_key(|l| l.id);
    let got: Vec<(&str, i64, i64, i64)> = lines
        .iter()
        .map(|l| (l.entry.as_str(), l.gross, l.fee, l.share))
        .collect();
    // $5.00: fee 45 ¢, 70 % of $4.55 = $3.185 → 318 ¢; $10.00: fee 59 ¢, 70 % of $9.41 → 658 ¢.
    assert_eq!(
        got,
        vec![
            ("tip", 500, 45, 318),
            ("tip", 1000, 59, 658),
            ("refund", -250, 0, -159),
            ("dispute", -1000, 0, -658),
        ]
    );
    assert!(
        lines
            .iter()
            .all(|l| l.currency == "usd" && l.uploader_id == paul)
    );
    // The rest of the first tip refunded: its share is taken back exactly.
    stripe.hold_events(false);
    stripe.refund(&intents[0], 250).await;
    let shares: i64 = tip_ledger::Entity::find()
        .all(&app.db)
        .await
        .expect("ledger")
        .iter()
        .map(|l| l.share)
        .sum();
    assert_eq!(shares, 0);

    // A third tip stays: what paul is owed, on his account page and in the payouts.
    let res = tip(&app, &slug, "3", &mut lena).await;
    pay(
        &stripe,
        location(&res).rsplit('/').next().unwrap_or_default(),
    )
    .await;
    // 300 − (30 + 9) = 261 → 70 % = 182.7 → 182 ¢.
    let (_, html) = app.get_text("/account", &own).await;
    assert!(
        html.contains("data-testid=\"earnings\"") && html.contains("$1.82"),
        "{html}"
    );
    let csv =
        server::cli::admin::payouts_text(&payments::payouts(&app.db).await.expect("payouts"), true);
    assert_eq!(
        csv,
        "username,email,currency,tips,gross_minor,fees_minor,owed_minor,owed\n\
         paul,paul@example.org,usd,3,300,143,182,1.82\n"
    );
}

/// Two refunds of one charge, told at once (Stripe sends events in parallel): each
/// reversal is written from the state the other left, never both from the same one, so the
/// charge is reversed exactly once in all.
async fn two_refunds_of_one_charge_told_at_once_reverse_it_exactly(backend: Backend) {
    let (app, stripe) = paid_site(backend).await;
    let paul = app.user("paul", Role::Uploader).await;
    let (_, slug) = app.recording(sample("Dawn chorus", paul)).await;
    app.user("lena", Role::Listener).await;
    let mut lena = app.login("lena").await;
    let res = tip(&app, &slug, "10", &mut lena).await;
    pay(
        &stripe,
        location(&res).rsplit('/').next().unwrap_or_default(),
    )
    .await;
    let intent = stripe
        .payments()
        .iter()
        .map(|p| p.intent.clone())
        .max()
        .expect("pi");
    stripe.hold_events(true);
    stripe.refund(&intent, 300).await;
    stripe.refund(&intent, 700).await;
    let events = stripe.take_events();
    assert_eq!(events.len(), 2);
    for round in 0..3 {
        let (a, b) = tokio::join!(stripe.deliver(&events[0]), stripe.deliver(&events[1]));
        assert_eq!((a, b), (200, 200), "round {round}");
    }
    let lines = tip_ledger::Entity::find()
        .all(&app.db)
        .await
        .expect("ledger");
    let (gross, share): (i64, i64) = lines
        .iter()
        .fold((0, 0), |(g, s), l| (g + l.gross, s + l.share));
    assert_eq!((gross, share), (0, 0), "refunded whole, once: {lines:?}");
}

/// Stripe unreachable: the plans still show (without prices), and subscribing says our
/// side failed, sends nobody anywhere and stores nothing.
async fn with_stripe_down_the_site_says_so_and_keeps_nothing(backend: Backend) {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let app = TestApp::spawn_paid(backend, &format!("http://{closed}"), SECRET).await;
    let lena = app.user("lena", Role::Listener).await;
    let mut browser = app.login("lena").await;
    let (status, html) = app.get_text("/premium", &browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Price shown at checkout"), "{html}");
    let token = app.form_token("/premium", &mut browser).await;
    let res = app
        .post_form(
            "/api/subscribe",
            "/premium",
            &[("csrf", &token), ("plan", "monthly")],
            &mut browser,
        )
        .await;
    assert!(
        redirect_error(&res).is_some_and(|e| e.contains("went wrong on our side")),
        "{}",
        location(&res)
    );
    assert!(
        entitlements::Entity::find_by_id(lena)
            .one(&app.db)
            .await
            .expect("read")
            .is_none(),
        "no customer stored"
    );
    assert!(!premium(&app, lena).await);
    // An operator sees it: the calls failed, and were timed.
    let metrics = app.metrics().await;
    assert!(metrics["ambisonia_stripe_calls_failed_total"] >= 1.0);
    assert!(metrics["ambisonia_stripe_call_duration_seconds_count"] >= 1.0);
    assert_eq!(metrics["ambisonia_payments_on"], 1.0);
}

both_backends!(
    two_refunds_of_one_charge_told_at_once_reverse_it_exactly,
    with_stripe_down_the_site_says_so_and_keeps_nothing,
    subscribing_makes_premium_at_once_and_events_keep_it_true,
    a_failed_card_keeps_premium_with_a_banner_until_stripe_gives_up,
    events_in_any_order_or_twice_end_in_the_same_state,
    forged_stale_altered_and_unsigned_events_are_refused_and_change_nothing,
    premium_downloads_are_gated_where_they_are_answered,
    tips_refunds_and_disputes_are_ledger_lines_in_minor_units,
    a_disputed_subscription_payment_suspends_premium_until_won,
    premium_previews_are_an_excerpt_without_premium,
);
