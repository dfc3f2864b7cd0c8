// drumbeat console: a little progressive enhancement, no framework. Every control works without
// this file (plain forms); it adds the review queue's keyboard shortcuts and "select all".
'use strict';

function typingIn(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

function setUpSelectAll() {
  for (const toggle of document.querySelectorAll('[data-select-all]')) {
    toggle.addEventListener('change', () => {
      for (const box of document.querySelectorAll(`input[type="checkbox"][name="${toggle.dataset.selectAll}"]`)) box.checked = toggle.checked;
    });
  }
}

// Review queue: j/k move between messages, a approves the current one, r opens its rejection reason.
function setUpReviewKeys() {
  const cards = [...document.querySelectorAll('.message-card[data-message-id]')];
  if (cards.length === 0) return;
  let current = 0;
  const select = (index) => {
    cards[current].classList.remove('current');
    current = Math.max(0, Math.min(cards.length - 1, index));
    cards[current].classList.add('current');
    cards[current].focus();
  };
  cards[0].classList.add('current');
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typingIn(event.target)) return;
    const card = cards[current];
    if (event.key === 'j') select(current + 1);
    else if (event.key === 'k') select(current - 1);
    else if (event.key === 'a') card.querySelector('form[data-review="approve"]')?.requestSubmit();
    else if (event.key === 'r') card.querySelector('textarea[name="reason"]')?.focus();
    else return;
    event.preventDefault();
  });
}

// A spec file chosen on "New campaign" is read into the spec field (and its format chosen), so the
// form posts it like pasted text.
function setUpFileLoading() {
  for (const input of document.querySelectorAll('input[type="file"][data-load-into]')) {
    input.addEventListener('change', async () => {
      const file = input.files?.[0];
      if (file === undefined) return;
      document.getElementById(input.dataset.loadInto).value = await file.text();
      const format = document.getElementById(input.dataset.formatField);
      if (format !== null) format.value = file.name.toLowerCase().endsWith('.json') ? 'json' : 'yaml';
    });
  }
}

setUpSelectAll();
setUpFileLoading();
setUpReviewKeys();
