use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{ChangeEmail, ChangePassword, load_account},
    components::{CsrfField, ErrorView, FormError},
};

#[component]
pub fn AccountPage() -> impl IntoView {
    let saved = use_query_map().with_untracked(|q| match q.get_str("saved") {
        Some("password") => Some("Your password has been changed."),
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
                            </section>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
