// Upload progress: the form works without this file (a plain multipart POST). With it,
// the same request goes through XMLHttpRequest so the page can show how far it got, and
// the browser then follows the answer like the form would have.
(function () {
  const form = document.querySelector('form[data-upload-form]');
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  const bar = form.querySelector('.upload-progress');
  const status = form.querySelector('.upload-status');
  const button = form.querySelector('button[type=submit]');
  form.addEventListener('submit', function (event) {
    event.preventDefault();
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
