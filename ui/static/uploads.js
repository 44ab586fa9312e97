// Gradio checks a chosen or dropped file in the browser (size, type) and says why it refuses one in English:
// rewrite those messages, wherever they appear on the page, and the toasts' titles, in Korean. Installed once
// per page.
(function () {
  if (window.__koragUploadMessages) return;
  window.__koragUploadMessages = true;
  const rules = [
    [/File\(s\) exceed the maximum allowed size of [^:]*:\s*(.*)/s, (m) => '파일이 너무 큽니다 (최대 __MAX_MB__MB): ' + m[1]],
    [/Invalid file types?:\s*(.*?)\.\s*Only .* allowed\.?/s, (m) => '지원하지 않는 형식입니다: ' + m[1]],
  ];
  // the default title of such a toast (Gradio's own, untranslated)
  const titles = { Error: '오류', Warning: '알림', Info: '안내' };
  function fix(node) {
    if (node.nodeType === Node.TEXT_NODE) {
      const title = titles[node.data.trim()];
      if (title && node.parentElement && node.parentElement.closest('.toast-title')) { node.data = title; return; }
      for (const [re, say] of rules) {
        const m = node.data.match(re);
        if (m) { node.data = node.data.replace(re, say(m)); return; }
      }
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) fix(t);
  }
  new MutationObserver(function (changes) {
    for (const c of changes) {
      if (c.type === 'characterData') fix(c.target);
      for (const n of c.addedNodes) fix(n);
    }
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
})();
