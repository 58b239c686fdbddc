//! `/premium`: the plans and where the visitor stands; `/premium/welcome`: Stripe
//! Checkout's way back, which confirms the subscription with Stripe before saying so.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{Subscribe, load_premium, load_premium_welcome},
    components::{CsrfField, ErrorView, FormError},
};
use domain::{
    billing::period_words,
    model::{Membership, PlanOffer},
};

#[component]
pub fn PremiumPage() -> impl IntoView {
    let cancelled = use_query_map().with_untracked(|q| q.get_str("cancelled") == Some("1"));
    view! {
        <Title text="Premium"/>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_premium().await {
                    Ok(page) => view! {
                        <section class="premium-page" data-testid="premium-page">
                            <h1>"Premium"</h1>
                            <p class="lede">
                                "Every recording's original, and every format it can be made into — AmbiX, FuMa, "
                                "binaural, UHJ, 5.1 — for one subscription. Previews and pages stay free for everyone."
                            </p>
                            {cancelled.then(|| view! {
                                <p class="notice" role="status" data-testid="checkout-cancelled">
                                    "Checkout was cancelled: nothing was charged."
                                </p>
                            })}
                            {page.membership.clone().map(|m| view! { <Standing m/> })}
                            {if !page.payments_on {
                                view! {
                                    <p class="notice" data-testid="payments-off">
                                        "Payments are switched off on this site. An administrator can give an account premium by hand."
                                    </p>
                                }.into_any()
                            } else if page.membership.as_ref().is_some_and(|m| m.premium) {
                                view! { <p><a href="/account#premium">"Your subscription is on your account page →"</a></p> }.into_any()
                            } else {
                                let logged_in = page.membership.is_some();
                                view! {
                                    <ul class="plans">
                                        {page.plans.into_iter().map(|offer| view! { <Offer offer logged_in/> }).collect_view()}
                                    </ul>
                                    <FormError path=Subscribe::PATH/>
                                    <p class="hint">"Payment by card through Stripe. Cancel any time from your account page: premium lasts to the end of the period paid for."</p>
                                }.into_any()
                            }}
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Offer(offer: PlanOffer, logged_in: bool) -> impl IntoView {
    let plan = offer.plan;
    let price = offer
        .price
        .map(|p| format!("{p} {}", period_words(plan.months())));
    view! {
        <li class="plan" data-testid=format!("plan-{}", plan.as_str())>
            <h2>{plan.label()}</h2>
            <p class="price">{price.unwrap_or_else(|| "Price shown at checkout".into())}</p>
            {if logged_in {
                view! {
                    <form method="post" action=Subscribe::PATH>
                        <CsrfField/>
                        <input type="hidden" name="plan" value=plan.as_str()/>
                        <button type="submit" data-testid=format!("subscribe-{}", plan.as_str())>"Subscribe"</button>
                    </form>
                }.into_any()
            } else {
                view! { <p><a class="button" href="/login?next=/premium">"Log in to subscribe"</a></p> }.into_any()
            }}
        </li>
    }
}

/// Where someone stands: premium and until when, or not.
#[component]
pub fn Standing(m: Membership) -> impl IntoView {
    let fix_card = m.card_needs_fixing();
    let sub = m.subscription.clone();
    view! {
        <div class="standing" data-testid="membership">
            {fix_card.then(|| view! {
                <p class="notice error" role="alert" data-testid="fix-card">
                    "Your last payment failed. Stripe will try your card again: please update it with “Manage billing” on your account page, or premium will end."
                </p>
            })}
            {m.suspended_by_dispute.then(|| view! {
                <p class="notice error" role="alert" data-testid="disputed">
                    "A payment for your subscription was disputed with your bank, so premium is suspended: while the dispute is open, and to the end of the period that payment was for if the bank refunds it. If Stripe closes the dispute in the site's favour, premium comes back by itself."
                </p>
            })}
            {if m.premium {
                view! { <p><span class="premium" data-testid="premium-badge">"Premium"</span>" Your account downloads every recording in every format."</p> }.into_any()
            } else {
                view! { <p data-testid="not-premium">"Your account is not premium."</p> }.into_any()
            }}
            {sub.map(|s| {
                let plan = s.plan.map(|p| p.label()).unwrap_or("Subscription");
                let price = s.price.as_ref().map(|p| match s.interval_months {
                    Some(m) => format!("{p} {}", period_words(u32::try_from(m).unwrap_or(1))),
                    None => p.to_string(),
                });
                let end = s.current_period_end.map(|e| e.format("%-d %B %Y").to_string());
                let when = match (s.status.grants_premium(), s.cancel_at_period_end, end) {
                    (true, true, Some(e)) => format!("Cancelled: ends on {e}."),
                    (true, false, Some(e)) => format!("Renews on {e}."),
                    _ => String::new(),
                };
                view! {
                    <dl class="account-facts">
                        <dt>"Plan"</dt><dd data-testid="plan">{plan}</dd>
                        {price.map(|p| view! { <dt>"Price"</dt><dd data-testid="price">{p}</dd> })}
                        <dt>"Status"</dt><dd data-testid="subscription-status">{s.status.label()}</dd>
                    </dl>
                    {(!when.is_empty()).then(|| view! { <p data-testid="renewal">{when}</p> })}
                }
            })}
            {m.granted_until.map(|u| view! {
                // Granted through a day: until the midnight after it.
                <p data-testid="granted">{format!("Premium given by the site through {}.", (u - chrono::Duration::seconds(1)).format("%-d %B %Y"))}</p>
            })}
        </div>
    }
}

#[component]
pub fn PremiumWelcomePage() -> impl IntoView {
    let session = use_query_map().with_untracked(|q| q.get("session_id").unwrap_or_default());
    view! {
        <Title text="Welcome to premium"/>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_premium_welcome(session).await {
                    Ok(m) if m.premium => view! {
                        <section class="premium-page" data-testid="premium-welcome">
                            <h1>"Welcome to premium"</h1>
                            <p>"Thank you. Every recording's original and every format are yours to download."</p>
                            <Standing m/>
                            <p><a href="/catalog">"To the catalog →"</a></p>
                        </section>
                    }.into_any(),
                    Ok(m) => view! {
                        <section class="premium-page" data-testid="premium-pending">
                            <h1>"Almost there"</h1>
                            <p>"Stripe has not confirmed the payment yet. This page will say so once it has: reload it in a moment."</p>
                            <Standing m/>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
