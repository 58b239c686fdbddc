//! The upload form: a plain multipart form posting to `/upload` (handled by the server
//! crate, which streams the file to disk). `public/upload.js` adds a progress bar when
//! JavaScript runs; without it the form works the same.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{api::load_upload_form, components::ErrorView};
use domain::LICENCES;

#[component]
pub fn UploadPage() -> impl IntoView {
    view! {
        <Title text="Upload a recording"/>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_upload_form().await {
                    Ok((token, direct)) => view! { <UploadForm token direct/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn UploadForm(token: String, direct: Option<u64>) -> impl IntoView {
    // The token rides in the query: a multipart body is not read before the file arrives.
    let action = format!("/upload?csrf={token}");
    view! {
        <section class="upload" data-testid="upload">
            <h1>"Upload a recording"</h1>
            <p>
                "Send the original: a B-format "<code>".amb"</code>", an AmbiX or FuMa WAV, UHJ, "
                "G-format or stereo, as RIFF/WAVE, RF64 or Wave64. The site reads the format from "
                "the file; check one first with "<code>"server media inspect FILE"</code>"."
            </p>
            <form method="post" action=action enctype="multipart/form-data" class="upload-form" data-upload-form="" data-direct=direct.map(|_| "s3") data-direct-from=direct.map(|b| b.to_string())>
                <div class="field">
                    <label for="u-file">"Recording"</label>
                    <input id="u-file" name="file" type="file" accept=".amb,.wav,.rf64,.w64,audio/wav" required=true/>
                </div>
                <div class="field">
                    <label for="u-title">"Title"</label>
                    <input id="u-title" name="title" type="text" maxlength="200" required=true/>
                </div>
                <div class="field">
                    <label for="u-location">"Location"</label>
                    <input id="u-location" name="location" type="text" maxlength="200"/>
                </div>
                <fieldset class="field place">
                    <legend>"Where it was recorded (optional)"</legend>
                    <label for="u-lat">"Latitude"</label>
                    <input id="u-lat" name="latitude" type="text" inputmode="decimal" placeholder="52.70"/>
                    <label for="u-lon">"Longitude"</label>
                    <input id="u-lon" name="longitude" type="text" inputmode="decimal" placeholder="23.85"/>
                    <label class="check"><input type="checkbox" name="blur"/>" Blur it to about 1 km"</label>
                    <p class="hint">"Decimal degrees; it puts the recording on the map. You can also set it later, by a click on a map, when you describe it."</p>
                </fieldset>
                <div class="field">
                    <label for="u-description">"Description"</label>
                    <textarea id="u-description" name="description" rows="5"></textarea>
                </div>
                <div class="field">
                    <label for="u-licence">"Licence"</label>
                    <select id="u-licence" name="licence">
                        {LICENCES.iter().map(|(key, label, _)| view! { <option value=*key>{*label}</option> }).collect_view()}
                    </select>
                </div>
                <fieldset class="field">
                    <legend>"If the file is a plain multichannel WAV, its convention"</legend>
                    <label><input type="radio" name="convention" value="" checked=true/>" Read it from the file"</label>
                    <label><input type="radio" name="convention" value="ambix"/>" AmbiX (ACN, SN3D)"</label>
                    <label><input type="radio" name="convention" value="fuma"/>" FuMa"</label>
                </fieldset>
                <progress class="upload-progress" max="100" value="0" hidden=true data-testid="upload-progress"></progress>
                <p class="upload-status" role="status" data-testid="upload-status"></p>
                <button type="submit">"Upload"</button>
            </form>
            <p class="hint">"An editor looks at new recordings before they appear in the catalog."</p>
        </section>
        <script src="/upload.js" defer=true></script>
    }
}
