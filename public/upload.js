// Upload progress: the form works without this file (a plain multipart POST). With it,
// the same request goes through XMLHttpRequest so the page can show how far it got, and
// the browser then follows the answer like the form would have.
//
// Where the site keeps media in S3 (the form says data-direct="s3"), a large file goes
// straight to the bucket instead: in parts, three at a time, each retried; the ETag of
// every part that arrived is kept in localStorage, so after a dropped connection choosing
// the same file again sends only what is missing. Then the site finishes it in the
// background (joining, inspecting) while this page asks how it goes.
(function () {
  const form = document.querySelector('form[data-upload-form]');
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  const bar = form.querySelector('.upload-progress');
  const status = form.querySelector('.upload-status');
  const button = form.querySelector('button[type=submit]');
  const DIRECT_FROM = Number(form.dataset.directFrom || 64 * 1024 * 1024);
  const field = (name) => (form.elements[name] ? form.elements[name].value : '');

  async function post(path, csrf, body) {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const e = new Error(json.error || res.statusText);
      e.status = res.status;
      throw e;
    }
    return json;
  }

  function putPart(url, blob, onProgress) {
    return new Promise((ok, fail) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', url);
      xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded));
      xhr.addEventListener('load', () => (xhr.status === 200 ? ok(xhr.getResponseHeader('ETag')) : fail(new Error('part refused: ' + xhr.status))));
      xhr.addEventListener('error', () => fail(new Error('connection dropped')));
      xhr.send(blob);
    });
  }

  async function direct(file) {
    const csrf = new URL(form.action, location.href).searchParams.get('csrf');
    const key = 'ambisonia-direct:' + file.name + ':' + file.size + ':' + file.lastModified;
    let state = JSON.parse(localStorage.getItem(key) || 'null');
    if (!state) {
      const started = await post('/upload/direct', csrf, {
        title: field('title'), description: field('description'), location: field('location'),
        licence: field('licence'), convention: field('convention'), size: file.size,
        latitude: field('latitude'), longitude: field('longitude'),
        blur: !!form.querySelector('[name="blur"]')?.checked,
      });
      state = { id: started.id, partSize: started.part_size, parts: started.parts, etags: {} };
    }
    const save = () => localStorage.setItem(key, JSON.stringify(state));
    save();
    const size = (n) => Math.min(state.partSize, file.size - (n - 1) * state.partSize);
    const todo = [];
    for (let n = 1; n <= state.parts; n++) if (!state.etags[n]) todo.push(n);
    const inFlight = {};
    let done = Object.keys(state.etags).reduce((sum, n) => sum + size(Number(n)), 0);
    const show = () => {
      const sent = done + Object.values(inFlight).reduce((a, b) => a + b, 0);
      const pct = Math.floor((sent / file.size) * 100);
      bar.value = pct;
      status.textContent = 'Uploading… ' + pct + ' %';
    };
    show();
    async function worker() {
      while (todo.length) {
        const n = todo.shift();
        for (let attempt = 1; ; attempt++) {
          try {
            const { urls } = await post('/upload/direct/' + state.id + '/urls', csrf, { parts: [n] });
            const blob = file.slice((n - 1) * state.partSize, (n - 1) * state.partSize + size(n));
            const etag = await putPart(urls[String(n)], blob, (loaded) => { inFlight[n] = loaded; show(); });
            delete inFlight[n];
            state.etags[n] = etag;
            done += size(n);
            save();
            show();
            break;
          } catch (e) {
            delete inFlight[n];
            if (attempt >= 3) throw e;
            await new Promise((r) => setTimeout(r, 1000 * attempt));
          }
        }
      }
    }
    await Promise.all([worker(), worker(), worker()]);
    status.textContent = 'Every part is in the bucket; the site is checking the file…';
    const parts = Object.entries(state.etags).map(([n, etag]) => ({ n: Number(n), etag }));
    let result;
    try {
      // Answered at once (202) while a job joins and inspects the file; asked again (a
      // reload, a second tab), the same answer.
      result = await post('/upload/direct/' + state.id + '/complete', csrf, { parts });
      while (result.state === 'uploading' || result.state === 'finishing') {
        await new Promise((r) => setTimeout(r, 1000));
        result = await get(result.status_url);
      }
    } catch (e) {
      // Gone: there is nothing left to resume.
      if (e.status === 404) localStorage.removeItem(key);
      throw e;
    }
    localStorage.removeItem(key);
    if (result.state === 'done') {
      window.location.assign(result.url);
      return;
    }
    const e = new Error(result.message || 'the file was not taken');
    e.status = 422;
    throw e;
  }

  async function get(path) {
    const res = await fetch(path, { headers: { Accept: 'application/json' } });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const e = new Error(json.error || res.statusText);
      e.status = res.status;
      throw e;
    }
    return json;
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    const file = form.elements.file && form.elements.file.files[0];
    if (form.dataset.direct === 's3' && file && file.size >= DIRECT_FROM && window.fetch) {
      bar.hidden = false;
      button.disabled = true;
      direct(file).catch((e) => {
        button.disabled = false;
        status.textContent = e.status === 422
          ? 'The upload was refused: ' + e.message
          : 'The upload stopped: ' + e.message + ' Choose the same file and upload again to continue where it stopped.';
      });
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Accept', 'text/html');
    bar.hidden = false;
    bar.value = 0;
    button.disabled = true;
    status.textContent = 'Uploading…';
    xhr.upload.addEventListener('progress', function (e) {
      if (!e.lengthComputable) return;
      const pct = Math.floor((e.loaded / e.total) * 100);
      bar.value = pct;
      status.textContent = 'Uploading… ' + pct + ' %';
    });
    xhr.upload.addEventListener('load', function () {
      bar.value = 100;
      status.textContent = 'Checking the file…';
    });
    xhr.addEventListener('load', function () {
      if (xhr.status >= 200 && xhr.status < 400 && xhr.responseURL) {
        // The server answered with the recording's page (after its redirect).
        window.location.assign(xhr.responseURL);
      } else {
        // A refusal is a whole page saying why: show it as the form would have.
        document.open();
        document.write(xhr.responseText);
        document.close();
      }
    });
    xhr.addEventListener('error', function () {
      button.disabled = false;
      status.textContent = 'The connection dropped before the upload finished. Please try again.';
    });
    xhr.send(new FormData(form));
  });
})();
