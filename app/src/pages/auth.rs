//! Log in and register. Both forms carry the anonymous form token (a cookie plus a hidden
//! field), which also keeps these pages out of shared caches.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{Login, Register, safe_next},
    components::{CsrfField, FormError, current_viewer},
};

fn next_param() -> String {
    let query = use_query_map();
    query.with_untracked(|q| safe_next(q.get_str("next").unwrap_or("/")).to_string())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let next = next_param();
    let already = current_viewer().map(|v| {
        view! { <p class="notice">{format!("You are logged in as {}.", v.username)}</p> }
    });
    view! {
        <Title text="Log in"/>
        <section class="auth">
            <h1>"Log in"</h1>
            {already}
            <ActionForm action>
                <CsrfField/>
                <input type="hidden" name="next" value=next.clone()/>
                <div class="field">
                    <label for="l-user">"Username"</label>
                    <input id="l-user" name="username" autocomplete="username" required=true/>
                </div>
                <div class="field">
                    <label for="l-pass">"Password"</label>
                    <input id="l-pass" name="password" type="password" autocomplete="current-password" required=true/>
                </div>
                <FormError path=Login::PATH/>
                <button type="submit">"Log in"</button>
            </ActionForm>
            <p>"New here? "<a href="/register">"Create an account"</a></p>
        </section>
    }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let action = ServerAction::<Register>::new();
    let next = next_param();
    view! {
        <Title text="Create an account"/>
        <section class="auth">
            <h1>"Create an account"</h1>
            <p>"Rate and comment on recordings; uploaders can share their own."</p>
            <ActionForm action>
                <CsrfField/>
                <input type="hidden" name="next" value=next.clone()/>
                <div class="field">
                    <label for="r-user">"Username"</label>
                    <input id="r-user" name="username" autocomplete="username" required=true minlength="3" maxlength="32"
                        pattern="[A-Za-z][A-Za-z0-9_\\-]{2,31}" aria-describedby="r-user-help"/>
                    <p class="help" id="r-user-help">"3–32 letters, digits, - or _, starting with a letter."</p>
                </div>
                <div class="field">
                    <label for="r-email">"Email"</label>
                    <input id="r-email" name="email" type="email" autocomplete="email" required=true/>
                </div>
                <div class="field">
                    <label for="r-pass">"Password"</label>
                    <input id="r-pass" name="password" type="password" autocomplete="new-password" required=true minlength="10"
                        aria-describedby="r-pass-help"/>
                    <p class="help" id="r-pass-help">"At least 10 characters."</p>
                </div>
                <FormError path=Register::PATH/>
                <button type="submit">"Create account"</button>
            </ActionForm>
            <p>"Already have an account? "<a href="/login">"Log in"</a></p>
        </section>
    }
}
