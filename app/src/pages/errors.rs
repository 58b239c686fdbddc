use leptos::prelude::*;
use leptos_meta::Title;

use crate::{components::ErrorView, error::AppError};

/// Any path no route matches: a real 404.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Title text="Not found"/>
        <ErrorView error=AppError::NotFound/>
    }
}
