use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{ChangeEmail, ChangePassword, CreateToken, ManageBilling, RevokeToken, load_account},
    components::{CsrfField, ErrorView, FormError},
    pages::premium::Standing,
};
use domain::model::{Earnings, Membership, TokenView};

#[component]
pub fn AccountPage() -> impl IntoView {
    let saved = use_query_map().with_untracked(|q| match q.get_str("saved") {
        Some("password") => Some("Your password has been changed; your other logins have ended and your API tokens are revoked."),
        Some("email") => Some("Your email address has been changed."),
        _ => None,
    });
    view! {
        <Title text="Your account"/>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_account().await {
                    Ok(a) => {
                        let password = ServerAction::<ChangePassword>::new();
                        let email = ServerAction::<ChangeEmail>::new();
                        view! {
                            <section class="account" data-testid="account">
                                <h1>"Your account"</h1>
                                {saved.map(|m| view! { <p class="notice" role="status">{m}</p> })}
                                <dl class="account-facts">
                                    <dt>"Username"</dt><dd data-testid="account-username">{a.username.clone()}</dd>
                                    <dt>"Email"</dt><dd>{a.email.clone()}</dd>
                                    <dt>"Role"</dt><dd>{a.role.as_str()}</dd>
                                    <dt>"Member since"</dt><dd>{a.joined.format("%-d %B %Y").to_string()}</dd>
                                </dl>
                                <p><a href=format!("/users/{}", a.username)>"Your public profile →"</a></p>
                                <div class="account-forms">
                                    <ActionForm action=password>
                                        <h2>"Change password"</h2>
                                        <CsrfField/>
                                        <div class="field">
                                            <label for="p-current">"Current password"</label>
                                            <input id="p-current" name="current" type="password" autocomplete="current-password" required=true/>
                                        </div>
                                        <div class="field">
                                            <label for="p-new">"New password"</label>
                                            <input id="p-new" name="new_password" type="password" autocomplete="new-password" minlength="10" required=true/>
                                        </div>
                                        <p class="hint">"Your other logins end, and your API tokens are revoked: make new ones for your computers afterwards."</p>
                                        <FormError path=ChangePassword::PATH/>
                                        <button type="submit">"Change password"</button>
                                    </ActionForm>
                                    <ActionForm action=email>
                                        <h2>"Change email"</h2>
                                        <CsrfField/>
                                        <div class="field">
                                            <label for="e-email">"New email"</label>
                                            <input id="e-email" name="email" type="email" autocomplete="email" required=true/>
                                        </div>
                                        <div class="field">
                                            <label for="e-pass">"Password"</label>
                                            <input id="e-pass" name="password" type="password" autocomplete="current-password" required=true/>
                                        </div>
                                        <FormError path=ChangeEmail::PATH/>
                                        <button type="submit">"Change email"</button>
                                    </ActionForm>
                                </div>
                                <Premium m=a.membership.clone() payments_on=a.payments_on/>
                                {(!a.earnings.lines.is_empty()).then(|| view! { <EarningsTable e=a.earnings.clone()/> })}
                                <Tokens tokens=a.tokens.clone() new_token=a.new_token.clone()/>
                            </section>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Premium: where the account stands, and the way to Stripe's Customer Portal.
#[component]
fn Premium(m: Membership, payments_on: bool) -> impl IntoView {
    let subscribed = m.subscription.is_some();
    view! {
        <section class="premium-account" id="premium" data-testid="account-premium">
            <h2>"Premium"</h2>
            <Standing m=m.clone()/>
            {match (payments_on, subscribed, m.premium) {
                (true, true, _) => view! {
                    <form method="post" action=ManageBilling::PATH>
                        <CsrfField/>
                        <FormError path=ManageBilling::PATH/>
                        <button type="submit" data-testid="manage-billing">"Manage billing"</button>
                        <span class="hint">" Change your card, cancel or resume, and see your invoices, at Stripe."</span>
                    </form>
                }.into_any(),
                (true, false, false) => view! { <p><a class="button" href="/premium">"Become premium"</a></p> }.into_any(),
                _ => ().into_any(),
            }}
        </section>
    }
}

/// Tips to this account's recordings, and what the site owes for them.
#[component]
fn EarningsTable(e: Earnings) -> impl IntoView {
    let owed = e
        .owed
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" + ");
    view! {
        <section class="earnings" id="earnings" data-testid="earnings">
            <h2>"Tips"</h2>
            <p>"Owed to you: "<strong data-testid="owed">{owed}</strong>
                {format!(" ({}% of each tip after the card fee; refunds and disputes take their part back).", domain::billing::UPLOADER_SHARE_PERCENT)}</p>
            <table class="ledger">
                <thead><tr><th>"Date"</th><th>"What"</th><th>"Recording"</th><th>"Amount"</th><th>"Fee"</th><th>"Yours"</th></tr></thead>
                <tbody>
                    {e.lines.into_iter().map(|l| view! {
                        <tr data-testid="ledger-line">
                            <td>{l.at.format("%-d %b %Y").to_string()}</td>
                            <td>{l.entry.as_str()}</td>
                            <td>{l.recording.map(|(slug, title)| view! { <a href=format!("/recordings/{slug}")>{title}</a> })}</td>
                            <td>{l.gross.to_string()}</td>
                            <td>{l.fee.to_string()}</td>
                            <td>{l.share.to_string()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// Personal API tokens, for the desktop Uploader, `server upload` and programs using the
/// API, each with the scopes its owner ticked.
#[component]
fn Tokens(tokens: Vec<TokenView>, new_token: Option<String>) -> impl IntoView {
    view! {
        <section class="tokens" id="tokens" data-testid="tokens">
            <h2>"API tokens"</h2>
            <p>
                "For uploading from a terminal: "<code>"server upload FILE --title … --url https://this.site"</code>
                " with the token in "<code>"AMBISONIA_API_TOKEN"</code>"; for programs that read the catalog or download through "
                <a href="/api">"the API"</a>"."
            </p>
            {new_token.map(|t| view! {
                <p class="notice" role="status">
                    "Your new token (copy it now: it is not shown again): "
                    <code data-testid="new-token">{t}</code>
                </p>
            })}
            <ul class="token-list">
                {tokens.into_iter().map(|t| view! {
                    <li data-testid="token">
                        <strong>{t.name.clone()}</strong>" "<code>{format!("{}…", t.prefix)}</code>
                        " · "<span data-testid="token-scopes">{t.scopes.join(", ")}</span>
                        " · made "{t.created_at.format("%-d %B %Y").to_string()}
                        {t.last_used_at.map(|u| format!(" · last used {}", u.format("%-d %B %Y %H:%M")))}
                        <form method="post" action=RevokeToken::PATH class="inline-form">
                            <CsrfField/>
                            <input type="hidden" name="id" value=t.id.to_string()/>
                            <button type="submit" class="link-button">"Revoke"</button>
                        </form>
                    </li>
                }).collect_view()}
            </ul>
            <form method="post" action=CreateToken::PATH>
                <CsrfField/>
                <div class="field">
                    <label for="t-name">"Token name"</label>
                    <input id="t-name" name="name" type="text" maxlength="80" placeholder="studio laptop" required=true/>
                </div>
                <fieldset class="field scopes">
                    <legend>"It may"</legend>
                    <label><input type="checkbox" name="scope_read" checked=true/>" read the catalog as you (read)"</label>
                    <label><input type="checkbox" name="scope_upload" checked=true/>" upload recordings (upload)"</label>
                    <label><input type="checkbox" name="scope_download" data-testid="scope-download"/>" download originals, premium ones if you are premium (download)"</label>
                </fieldset>
                <div class="field">
                    <label for="t-pass">"Your password"</label>
                    <input id="t-pass" name="password" type="password" autocomplete="current-password" required=true/>
                </div>
                <FormError path=CreateToken::PATH/>
                <button type="submit">"Make a token"</button>
            </form>
        </section>
    }
}
