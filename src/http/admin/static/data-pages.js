// drumbeat console, data pages (Imports, Suppressions): a CSV upload sent with the CSRF header and
// its import followed live by polling a small JSON endpoint; a chosen suppression file's name kept
// beside its text (admin.js reads the file into the text field).
'use strict';

function setUpFileNames() {
  for (const input of document.querySelectorAll('input[type="file"][data-name-into]')) {
    input.addEventListener('change', () => {
      const target = document.getElementById(input.dataset.nameInto);
      if (target !== null) target.value = input.files?.[0]?.name ?? '';
    });
  }
}

function describeProgress(progress) {
  const rows = progress.total ?? 0;
  return `${rows} rows read: ${progress.imported ?? 0} imported, ${progress.duplicates ?? 0} duplicates, ${progress.invalid ?? 0} invalid, ${progress.suppressed ?? 0} suppressed`;
}

function setUpImportUpload() {
  const form = document.getElementById('import-form');
  if (form === null) return;
  const box = document.getElementById('import-status');
  const text = document.getElementById('import-status-text');
  const bar = document.getElementById('import-progress');
  const links = document.getElementById('import-status-links');
  const show = (sentence) => {
    box.hidden = false;
    text.textContent = sentence;
  };

  async function follow(jobId, fileName, size) {
    for (;;) {
      const response = await fetch(`/admin/imports/jobs/${encodeURIComponent(jobId)}`, { headers: { accept: 'application/json' } });
      if (!response.ok) {
        show(`Could not read the progress of ${fileName} (HTTP ${response.status}).`);
        return;
      }
      const job = await response.json();
      if (job.state === 'completed') {
        bar.value = 100;
        const result = job.result ?? {};
        if (result.outcome === 'already-imported') show(`${fileName} was imported into this campaign before (import ${result.batchId}); nothing done. Tick "Import again" to repeat it.`);
        else show(`Import finished: ${describeProgress(result)}.`);
        if (result.batchId !== undefined && (result.invalid ?? 0) > 0) {
          const link = document.createElement('a');
          link.href = `/admin/imports/${result.batchId}/errors.csv`;
          link.textContent = `Download the error report of import ${result.batchId} (CSV)`;
          links.replaceChildren(link);
        }
        return;
      }
      if (job.state === 'failed') {
        show(`Import failed: ${job.failedReason}`);
        return;
      }
      if (size > 0 && typeof job.progress.bytes === 'number') bar.value = Math.min(99, Math.round((job.progress.bytes / size) * 100));
      show(job.state === 'active' ? `Importing ${fileName}: ${describeProgress(job.progress)}…` : `${fileName} is waiting for a worker…`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const campaign = data.get('campaign');
    data.delete('campaign');
    const file = data.get('file');
    const fileName = file instanceof File ? file.name : 'the file';
    const size = file instanceof File ? file.size : 0;
    bar.removeAttribute('value');
    links.replaceChildren();
    show(`Uploading ${fileName}…`);
    const response = await fetch(`/admin/imports/upload?campaign=${encodeURIComponent(campaign)}`, {
      method: 'POST',
      body: data,
      headers: { 'x-csrf-token': form.dataset.csrf, accept: 'application/json' },
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      show(`Upload refused: ${answer.error ?? `HTTP ${response.status}`}`);
      return;
    }
    show(`${fileName} uploaded; import queued.`);
    await follow(answer.jobId, fileName, size);
  });
}

setUpFileNames();
setUpImportUpload();
