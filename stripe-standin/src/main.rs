//! `stripe-standin --port P --webhook-url URL` (secret from STRIPE_WEBHOOK_SECRET): the
//! stand-in for Stripe's API as a process, for the browser tests. Prints its URL.

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut port = 0u16;
    let mut webhook = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0),
            "--webhook-url" => webhook = args.next(),
            _ => {
                eprintln!("usage: stripe-standin [--port P] [--webhook-url URL]");
                std::process::exit(2);
            }
        }
    }
    let secret = std::env::var("STRIPE_WEBHOOK_SECRET").unwrap_or_else(|_| "whsec_test".into());
    let standin = match stripe_standin::StandIn::start(port, &secret).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stripe-standin: {e}");
            std::process::exit(1);
        }
    };
    if let Some(url) = webhook {
        standin.set_webhook_url(&url);
    }
    println!("{}", standin.url());
    let _ = tokio::signal::ctrl_c().await;
}
