// The chat page's behaviour, installed once when the page loads (launch(js=...)):
//  - a mark [n] in an answer shows its source card: the card is opened (under "더 보기" if need be), scrolled into
//    view and highlighted; for an earlier answer the server first switches the panel to that answer's sources;
//  - "복사" copies the answer as text with its marks [n] and its sources (the hidden pre.ans-copytext);
//  - a new answer is shown from its start (its question at the top of the chat box), not scrolled to its end;
//  - the question box counts characters and says so when it reaches the limit (the box takes no more);
//  - labels that Gradio builds in English (buttons' aria-label and title, toast titles) are said in Korean.
() => {
  if (window.__korag) return;
  window.__korag = true;
  const MAX = __MAX_CHARS__;

  // ------------------------------------------------------------------ [n] → its source card
  let pending = null; // {id, until}: the card to show, also after the panel is re-rendered
  function showCard() {
    if (!pending) return false;
    if (Date.now() > pending.until) { pending = null; return false; }
    const card = document.getElementById(pending.id);
    if (!card) return false;
    for (let d = card.parentElement; d; d = d.parentElement) {
      if (d.tagName === 'DETAILS' && !d.open) d.open = true;
    }
    document.querySelectorAll('.src-card.is-target').forEach((c) => { if (c !== card) c.classList.remove('is-target'); });
    card.classList.add('is-target');
    card.setAttribute('tabindex', '-1');
    card.scrollIntoView({ block: 'start', inline: 'nearest' });
    card.focus({ preventScroll: true });
    return true;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise((resolve, reject) => { // plain http on another host: the old way
      const area = document.createElement('textarea');
      area.value = text;
      area.setAttribute('readonly', '');
      area.style.position = 'fixed';
      area.style.left = '-9999px';
      document.body.appendChild(area);
      area.select();
      let ok = false;
      try { ok = document.execCommand('copy'); } finally { area.remove(); }
      if (ok) resolve(); else reject(new Error('copy refused'));
    });
  }

  document.addEventListener('click', function (e) {
    const t = e.target instanceof Element ? e.target : null;
    if (!t) return;
    const mark = t.closest('a.cite');
    if (mark) {
      const id = (mark.getAttribute('href') || '').replace(/^#/, '');
      if (!id.startsWith('korag-src-')) return;
      e.preventDefault(); // no jump, no change of address; the click still selects the message (its sources)
      pending = { id: id, until: Date.now() + 4000 };
      showCard();
      return;
    }
    const btn = t.closest('button.ans-copy');
    if (btn) {
      e.preventDefault();
      const pre = btn.parentElement && btn.parentElement.querySelector('pre.ans-copytext');
      const say = (words, cls) => {
        btn.textContent = words;
        btn.classList.add(cls);
        setTimeout(() => { btn.textContent = '복사'; btn.classList.remove(cls); }, 2000);
      };
      copyText(pre ? pre.textContent : '').then(() => say('복사했습니다', 'done'), () => say('복사하지 못했습니다', 'failed'));
    }
  }, true);

  // ------------------------------------------------------------------ a new answer: show its start
  function scrollBox(el) {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      if ((s.overflowY === 'auto' || s.overflowY === 'scroll') && p.scrollHeight > p.clientHeight) return p;
    }
    return null;
  }
  function reveal(el) {
    const box = scrollBox(el);
    if (box) box.scrollTop += el.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
    const top = el.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.6) window.scrollBy(0, top - 12);
  }
  let answers = 0;
  function onChat() {
    const chat = document.getElementById('chat');
    if (!chat) return;
    const shown = chat.querySelectorAll('.korag-answer');
    if (shown.length > answers) {
      const questions = chat.querySelectorAll('.korag-question');
      const last = shown[shown.length - 1];
      const q = questions.length >= shown.length ? questions[shown.length - 1] : null;
      const target = (q || last).closest('.message-row, .message') || q || last;
      reveal(target);
      setTimeout(() => reveal(target), 120); // again once fonts and the message's height have settled
    }
    answers = shown.length;
  }

  // ------------------------------------------------------------------ the question's length
  let lastLength = -1;
  let overflowed = false;
  function counter() {
    const box = document.querySelector('#question textarea');
    const meta = document.querySelector('#question-counter .q-meta');
    if (!box || !meta) return;
    const n = box.value.length;
    if (n === lastLength) return;
    lastLength = n;
    if (n < MAX) overflowed = false;
    meta.querySelector('.q-count').textContent = n.toLocaleString('ko-KR') + ' / ' + MAX.toLocaleString('ko-KR') + '자';
    const full = n >= MAX;
    meta.classList.toggle('full', full);
    meta.querySelector('.q-limit').hidden = !full;
    meta.querySelector('.q-limit').textContent = overflowed
      ? '붙여 넣은 글이 ' + MAX.toLocaleString('ko-KR') + '자를 넘어 뒷부분은 들어가지 않았습니다.'
      : '질문은 ' + MAX.toLocaleString('ko-KR') + '자까지 입력할 수 있습니다. 넘는 부분은 들어가지 않습니다.';
  }
  document.addEventListener('input', function (e) {
    if (e.target instanceof Element && e.target.closest('#question')) counter();
  }, true);
  document.addEventListener('paste', function (e) {
    const box = e.target instanceof Element ? e.target.closest('#question textarea') : null;
    if (!box || !e.clipboardData) return;
    const added = e.clipboardData.getData('text').length;
    const kept = box.value.length - (box.selectionEnd - box.selectionStart);
    if (kept + added > MAX) { overflowed = true; lastLength = -1; }
  }, true);
  setInterval(counter, 400); // the box is also emptied by the page after a question is sent

  // ------------------------------------------------------------------ Korean labels
  const LABELS = {
    'Copy message': '복사', 'Copied message': '복사했습니다', 'Copy': '복사', 'Copied': '복사했습니다',
    'Like': '좋아요', 'Dislike': '싫어요', 'Clear': '대화 지우기', 'Retry': '다시 시도', 'Undo': '실행 취소',
    'Edit': '편집', 'Scroll down': '맨 아래로', 'chatbot conversation': '대화', 'Close': '닫기',
    'Gradio footer navigation': '페이지 아래 메뉴', 'Stop Recording': '녹음 중지', 'Loading...': '불러오는 중…',
    'Loading': '불러오는 중', 'Settings': '설정', 'Error': '오류', 'Warning': '알림', 'Info': '안내', 'Success': '완료',
    'Reset to default value': '기본값으로', 'Share': '공유', 'Download': '내려받기', 'Remove': '지우기',
    'Dropdown': '목록', 'Upload file': '파일 올리기', 'Clear files': '파일 지우기', 'Remove file': '파일 빼기',
    'logo': '로고', 'Textbox': '입력란',
  };
  const PATTERNS = [ // Gradio's labels built around a component's own (Korean) label
    [/^number input for (.*)$/s, (m) => m[1] + ' (숫자 입력)'],
    [/^range slider for (.*)$/s, (m) => m[1] + ' (슬라이더)'],
  ];
  const MESSAGE = /^(user|bot|assistant)'s message:/;
  function fixAttr(el, name) {
    const v = el.getAttribute(name);
    if (!v) return;
    if (LABELS[v.trim()]) { el.setAttribute(name, LABELS[v.trim()]); return; }
    for (const [re, say] of PATTERNS) {
      const p = v.match(re);
      if (p) { el.setAttribute(name, say(p)); return; }
    }
    const m = v.match(MESSAGE);
    if (m) { // Gradio labels a message with its raw HTML; say what it is, in words
      const words = (el.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 300);
      el.setAttribute(name, (m[1] === 'user' ? '질문: ' : '답변: ') + words);
    }
  }
  const CONTENT = '.korag-answer, .korag-question, .korag-sources, #doc-list, #example-questions, #korag-header';
  function fixText(node) {
    const to = LABELS[node.data.trim()];
    const el = node.parentElement;
    if (to && el && !el.closest(CONTENT) && !el.closest('textarea')) node.data = node.data.replace(node.data.trim(), to);
  }
  function relabel(root) {
    if (root.nodeType === Node.TEXT_NODE) { fixText(root); return; }
    if (root.nodeType !== Node.ELEMENT_NODE) return;
    for (const el of [root, ...root.querySelectorAll('[aria-label], [title], [alt]')]) {
      fixAttr(el, 'aria-label');
      fixAttr(el, 'title');
      fixAttr(el, 'alt');
    }
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) fixText(t);
  }

  let queued = false;
  new MutationObserver(function (changes) {
    let panel = false;
    for (const c of changes) {
      if (c.type === 'attributes') { fixAttr(c.target, c.attributeName); continue; }
      if (c.type === 'characterData') { fixText(c.target); continue; }
      for (const n of c.addedNodes) relabel(n);
      const t = c.target instanceof Element ? c.target : c.target.parentElement;
      if (t && t.closest('#sources-panel')) panel = true;
    }
    if (panel && pending) showCard();
    if (!queued) {
      queued = true;
      requestAnimationFrame(() => { queued = false; onChat(); });
    }
  }).observe(document.body, {
    childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ['aria-label', 'title', 'alt'],
  });
  relabel(document.body);
  counter();
}
