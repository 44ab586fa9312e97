element.addEventListener('toggle', function (e) {
  const d = e.target;
  if (!d || d.tagName !== 'DETAILS' || !d.open) return;
  const box = d.querySelector('.doc-text');
  const p = box && box.querySelector('.passage');
  if (box && p) { box.scrollTop = Math.max(0, p.offsetTop - box.offsetTop - 24); }
}, true);
