/* Guidegate guide runtime.
 *
 * Shows walkthroughs, tips, hotspots, announcements, banners, the help menu and checklists inside
 * a shadow root, and reports engagement. Every request goes to the reserved prefix of the page's
 * own origin, taken from this script's URL: {prefix}config, {prefix}state and {prefix}events.
 * Plain JavaScript with no build step; the only global name is window.Guidegate.
 */
(() => {
  'use strict';

  const W = window;
  const D = document;
  if (W.Guidegate) return; // injected twice, or already running in this window
  const SCRIPT = D.currentScript || D.querySelector('script[data-guidegate-app]');
  if (!SCRIPT || !SCRIPT.src || !D.documentElement || !D.documentElement.attachShadow || !W.fetch) return;
  if (location.origin === 'null') return;

  const SRC = new URL(SCRIPT.src, location.href);
  const RUNTIME_DIR = SRC.pathname.lastIndexOf('/runtime/');
  if (RUNTIME_DIR < 0) return;
  // The page's own origin, whatever origin the tag names, so nothing is ever sent elsewhere.
  const BASE = location.origin + SRC.pathname.slice(0, RUNTIME_DIR + 1);
  const CSS_URL = location.origin + SRC.pathname.replace(/\.js$/, '.css');
  const VERSION = SRC.pathname.slice(RUNTIME_DIR + 9).split('/')[0];
  const APP = SCRIPT.getAttribute('data-guidegate-app') || '';
  const QUERY = new URLSearchParams(location.search);
  const DEFAULT_WAIT_MS = 5000;
  const MAX_QUERY = 100;
  const RTL = ['ar', 'he', 'fa', 'ur'];
  const REDUCED = W.matchMedia && W.matchMedia('(prefers-reduced-motion: reduce)').matches;

  /* ---------- small helpers ---------- */

  let uidCounter = 0;
  const uid = () => 'gg' + (++uidCounter).toString(36);

  // Build an element with attributes, event handlers (on*) and children; text is always a text node.
  function h(tag, attrs, ...children) {
    const el = D.createElement(tag);
    for (const key in attrs || {}) {
      const value = attrs[key];
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(typeof child === 'string' ? D.createTextNode(child) : child);
    }
    return el;
  }

  const norm = (text) => String(text || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/\s+/g, ' ').trim().toLowerCase();
  const clamp = (value, low, high) => Math.max(low, Math.min(value, high));

  function sessionGet(key) {
    try {
      return JSON.parse(W.sessionStorage.getItem('guidegate.' + APP + '.' + key) || 'null');
    } catch (error) {
      return null;
    }
  }
  function sessionSet(key, value) {
    try {
      if (value === null) W.sessionStorage.removeItem('guidegate.' + APP + '.' + key);
      else W.sessionStorage.setItem('guidegate.' + APP + '.' + key, JSON.stringify(value));
    } catch (error) {
      /* storage full or disabled: the server copy still counts */
    }
  }

  function accessible(win) {
    try {
      return Boolean(win && win.document && win.location.origin === location.origin);
    } catch (error) {
      return false;
    }
  }

  /* ---------- language ---------- */

  const UI = {
    en: {
      next: 'Next', back: 'Back', done: 'Done', close: 'Close', step: 'Step {n} of {m}', help: 'Help',
      search: 'Search guides', none: 'No guides match.', request: 'Request help',
      requested: 'Your request for help was recorded.', ok: 'Got it', tip: 'Tip',
      click: 'Click the highlighted element to continue.', change: 'Change the highlighted field to continue.',
      page: 'This guide continues on the next page.', progress: '{n} of {m} done', todo: 'To do',
      guides: 'Guides for this page', pick: 'Pick an element', pickHint: 'Click an element to get its selector. Esc leaves.',
      copy: 'Copy', copied: 'Copied',
    },
    de: {
      next: 'Weiter', back: 'Zurück', done: 'Fertig', close: 'Schließen', step: 'Schritt {n} von {m}', help: 'Hilfe',
      search: 'Anleitungen durchsuchen', none: 'Keine Anleitung passt.', request: 'Hilfe anfordern',
      requested: 'Ihre Anfrage wurde erfasst.', ok: 'Verstanden', tip: 'Tipp',
      click: 'Klicken Sie auf das markierte Element, um fortzufahren.', change: 'Ändern Sie das markierte Feld, um fortzufahren.',
      page: 'Die Anleitung geht auf der nächsten Seite weiter.', progress: '{n} von {m} erledigt', todo: 'Offen',
      guides: 'Anleitungen für diese Seite',
    },
    fr: {
      next: 'Suivant', back: 'Précédent', done: 'Terminer', close: 'Fermer', step: 'Étape {n} sur {m}', help: 'Aide',
      search: 'Rechercher un guide', none: 'Aucun guide ne correspond.', request: "Demander de l'aide",
      requested: 'Votre demande a été enregistrée.', ok: "J'ai compris", tip: 'Astuce',
      click: "Cliquez sur l'élément mis en évidence pour continuer.", change: 'Modifiez le champ mis en évidence pour continuer.',
      page: 'Ce guide continue sur la page suivante.', progress: '{n} sur {m} terminées', todo: 'À faire',
      guides: 'Guides pour cette page',
    },
    es: {
      next: 'Siguiente', back: 'Atrás', done: 'Terminar', close: 'Cerrar', step: 'Paso {n} de {m}', help: 'Ayuda',
      search: 'Buscar guías', none: 'Ninguna guía coincide.', request: 'Pedir ayuda',
      requested: 'Su solicitud de ayuda se ha registrado.', ok: 'Entendido', tip: 'Consejo',
      click: 'Haga clic en el elemento resaltado para continuar.', change: 'Cambie el campo resaltado para continuar.',
      page: 'Esta guía continúa en la página siguiente.', progress: '{n} de {m} hechas', todo: 'Pendiente',
      guides: 'Guías para esta página',
    },
    ar: {
      next: 'التالي', back: 'السابق', done: 'إنهاء', close: 'إغلاق', step: 'الخطوة {n} من {m}', help: 'مساعدة',
      search: 'البحث في الأدلة', none: 'لا يوجد دليل مطابق.', request: 'طلب المساعدة',
      requested: 'تم تسجيل طلب المساعدة.', ok: 'حسنًا', tip: 'تلميح', todo: 'لم يكتمل',
      progress: 'اكتمل {n} من {m}', guides: 'أدلة هذه الصفحة',
    },
    he: {
      next: 'הבא', back: 'הקודם', done: 'סיום', close: 'סגירה', step: 'שלב {n} מתוך {m}', help: 'עזרה',
      search: 'חיפוש מדריכים', none: 'אין מדריך מתאים.', request: 'בקשת עזרה',
      requested: 'בקשת העזרה נרשמה.', ok: 'הבנתי', tip: 'טיפ', todo: 'לביצוע',
      progress: '{n} מתוך {m} הושלמו', guides: 'מדריכים לדף זה',
    },
  };

  // The user's languages in order of preference: the browser's, then the page's own (the app's user language).
  const PREFERRED = [...(navigator.languages || [navigator.language || '']), D.documentElement.lang || '']
    .filter(Boolean).map((tag) => tag.toLowerCase());

  // Choose the best of `available` locale tags for this user, else `fallback`.
  function chooseLocale(available, fallback) {
    const lower = available.map((tag) => tag.toLowerCase());
    for (const preferred of PREFERRED) {
      const exact = lower.indexOf(preferred);
      if (exact >= 0) return available[exact];
      const primary = preferred.split('-')[0];
      const partial = lower.findIndex((tag) => tag.split('-')[0] === primary);
      if (partial >= 0) return available[partial];
    }
    return available.includes(fallback) ? fallback : available[0] || fallback || 'en';
  }

  // A text in `locale`, else in the file's locale, else in any locale the rule wrote.
  function pick(variants, locale, fallback) {
    if (!variants) return '';
    if (typeof variants === 'string') return variants;
    const keys = Object.keys(variants);
    if (!keys.length) return '';
    return variants[chooseLocale(keys, locale)] || variants[fallback] || variants[keys[0]] || '';
  }

  const isRtl = (locale) => RTL.includes(String(locale || '').toLowerCase().split('-')[0]);

  function say(locale, key, values) {
    const primary = String(locale || 'en').toLowerCase().split('-')[0];
    let text = (UI[primary] && UI[primary][key]) || UI.en[key];
    for (const name in values || {}) text = text.replace('{' + name + '}', String(values[name]));
    return text;
  }

  // The locale a guide is shown in: the user's best match among the locales of its title.
  function guideLocale(guide) {
    const keys = guide.title && typeof guide.title === 'object' ? Object.keys(guide.title) : [];
    return chooseLocale(keys, guide.locale || 'en');
  }

  /* ---------- safe rich text: **bold**, *italic*, [links](url), lists, line breaks ---------- */

  const INLINE = /(\*\*[^*]+\*\*|__[^_]+__|\*[^*\s][^*]*\*|_[^_\s][^_]*_|\[[^\]]+\]\([^)\s]+\))/;

  function safeHref(target) {
    try {
      const url = new URL(target, location.href);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function inline(text, parent) {
    for (const part of text.split(INLINE)) {
      if (!part) continue;
      let match;
      if ((match = /^(\*\*|__)(.+)\1$/.exec(part))) parent.append(h('strong', null, match[2]));
      else if ((match = /^([*_])(.+)\1$/.exec(part))) parent.append(h('em', null, match[2]));
      else if ((match = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(part))) {
        const href = safeHref(match[2]);
        const outside = href && new URL(href).origin !== location.origin;
        parent.append(href ? h('a', { href, target: outside ? '_blank' : null, rel: outside ? 'noopener noreferrer' : null }, match[1]) : match[1]);
      } else parent.append(part);
    }
  }

  // Render rule text into `parent` with DOM calls only: rule text is never parsed as HTML.
  function rich(text, parent) {
    for (const block of String(text || '').split(/\n\s*\n/)) {
      const lines = block.split('\n').filter((line) => line.trim());
      if (!lines.length) continue;
      const bullets = lines.every((line) => /^\s*[-*]\s+/.test(line));
      const numbers = lines.every((line) => /^\s*\d+[.)]\s+/.test(line));
      if (bullets || numbers) {
        const list = h(bullets ? 'ul' : 'ol');
        for (const line of lines) {
          const item = h('li');
          inline(line.replace(/^\s*([-*]|\d+[.)])\s+/, ''), item);
          list.append(item);
        }
        parent.append(list);
        continue;
      }
      const paragraph = h('p');
      lines.forEach((line, index) => {
        if (index) paragraph.append(h('br'));
        inline(line.trim(), paragraph);
      });
      parent.append(paragraph);
    }
    return parent;
  }

  /* ---------- requests to the prefix ---------- */

  function endpoint(name, params) {
    const query = new URLSearchParams(Object.assign({ app: APP }, params || {}));
    return BASE + name + '?' + query;
  }

  function postJson(name, body) {
    return fetch(endpoint(name), {
      method: 'POST', credentials: 'same-origin', keepalive: true,
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
  }

  const outbox = [];
  let outboxTimer = 0;
  let previewing = null;
  const PAGE = location.pathname.slice(0, 512);
  const encoder = new TextEncoder();

  // Queue an engagement event; events leave in batches after a second, or at once when the page is hidden.
  function track(kind, fields) {
    if (previewing) return;
    const event = Object.assign({ kind, page: PAGE, t: Date.now() }, fields);
    if (W.name) event.frame = W.name.slice(0, 200);
    outbox.push(event);
    if (outbox.length >= 20) flush(false);
    else if (!outboxTimer) outboxTimer = setTimeout(() => flush(false), 1000);
  }

  function flush(beacon) {
    clearTimeout(outboxTimer);
    outboxTimer = 0;
    while (outbox.length) {
      const batch = [];
      let bytes = 16;
      while (outbox.length && batch.length < 50) {
        const event = Object.assign({}, outbox[0], { age: clamp(Date.now() - outbox[0].t, 0, 86400000) });
        delete event.t;
        const size = encoder.encode(JSON.stringify(event)).length + 1;
        if (batch.length && bytes + size > 15000) break;
        outbox.shift();
        batch.push(event);
        bytes += size;
      }
      const body = JSON.stringify({ events: batch });
      if (beacon && navigator.sendBeacon && navigator.sendBeacon(endpoint('events'), body)) continue;
      fetch(endpoint('events'), {
        method: 'POST', credentials: 'same-origin', keepalive: true,
        headers: { 'Content-Type': 'application/json' }, body,
      }).catch(() => {});
    }
  }

  /* ---------- guide state: server copy, cached per tab ---------- */

  const NEW_STATE = { step: 0, status: 'new', shown: 0, dismissed: false, seq: 0 };
  let states = {};

  function loadStates(fromServer) {
    const cached = sessionGet('state') || {};
    states = Object.assign({}, fromServer || {});
    for (const id in cached) {
      if (!states[id] || cached[id].seq > states[id].seq) states[id] = cached[id];
    }
  }

  const stateOf = (id) => states[id] || NEW_STATE;

  // Change a guide's state here, in sessionStorage, and on the server (a keepalive request that
  // survives the page unloading). `shown` adds one showing.
  function setState(id, change) {
    const old = stateOf(id);
    const next = Object.assign({}, old, change, { seq: old.seq + 1 });
    next.shown = old.shown + (change.shown ? 1 : 0);
    states[id] = next;
    if (previewing) return;
    sessionSet('state', states);
    postJson('state', Object.assign({ guide: id, seq: next.seq }, change, { shown: Boolean(change.shown) })).catch(() => {});
  }

  const sessionDismissed = (id) => (sessionGet('dismissed') || []).includes(id);
  function rememberDismissed(id) {
    const list = sessionGet('dismissed') || [];
    if (!list.includes(id)) sessionSet('dismissed', list.concat(id).slice(-200));
  }

  // Whether the frequency rule lets a guide show on its own (help-menu starts skip this).
  function frequencyAllows(guide) {
    const state = stateOf(guide.id);
    const mode = (guide.frequency && guide.frequency.mode) || 'once';
    if (mode === 'every_visit') return !sessionDismissed(guide.id);
    if (state.dismissed) return false;
    if (mode === 'once') return state.shown === 0 && state.status !== 'completed';
    if (mode === 'until_completed') return state.status !== 'completed';
    if (mode === 'max_times') return state.shown < (guide.frequency.max_times || 1) && state.status !== 'completed';
    return false;
  }

  function scheduleAllows(guide, config) {
    if (!config.check_client_time || !guide.schedule) return true;
    const now = Date.now();
    const from = guide.schedule.from && Date.parse(guide.schedule.from);
    const until = guide.schedule.until && Date.parse(guide.schedule.until);
    return !(from && now < from) && !(until && now >= until);
  }

  /* ---------- finding targets ---------- */

  function findFrame(win, name, depth) {
    if (depth > 6) return null;
    for (let index = 0; index < win.frames.length; index++) {
      const frame = win.frames[index];
      try {
        if (frame.name === name && accessible(frame)) return frame;
        const inner = findFrame(frame, name, depth + 1);
        if (inner) return inner;
      } catch (error) {
        /* a frame of another origin: its own runtime handles it */
      }
    }
    return null;
  }

  function targetDocument(target) {
    if (!target.frame || W.name === target.frame) return D;
    const frame = findFrame(W, target.frame, 0);
    return frame ? frame.document : null;
  }

  function visible(el) {
    if (el.checkVisibility) return el.checkVisibility({ visibilityProperty: true });
    return el.getClientRects().length > 0;
  }

  function textOf(el) {
    return norm([el.textContent, el.value && /^(button|submit|reset)$/i.test(el.type || '') ? el.value : '',
      el.getAttribute('aria-label'), el.getAttribute('placeholder'), el.getAttribute('title')].join(' '));
  }

  // The first visible element of the first selector that finds one, with the text when the rule names one.
  function findTarget(target) {
    const doc = targetDocument(target);
    if (!doc) return null;
    const expectedText = target.text ? norm(target.text) : '';
    for (const selector of target.selectors || []) {
      let found;
      try {
        found = doc.querySelectorAll(selector);
      } catch (error) {
        continue; // a selector this browser does not support
      }
      for (const el of found) if (visible(el) && (!expectedText || textOf(el).includes(expectedText))) return el;
    }
    return null;
  }

  const waitMs = (target) => (target && typeof target.wait === 'number' ? target.wait * 1000 : DEFAULT_WAIT_MS);

  // Resolve with find()'s first truthy result, checked on DOM changes and every 250 ms, or with null after `ms`.
  function waitFor(find, ms) {
    return new Promise((resolve) => {
      const first = find();
      if (first) return resolve(first);
      let finished = false;
      let queued = 0;
      const finish = (value) => {
        if (finished) return;
        finished = true;
        observer.disconnect();
        clearInterval(poll);
        clearTimeout(limit);
        clearTimeout(queued);
        resolve(value);
      };
      const check = () => {
        queued = 0;
        const value = find();
        if (value) finish(value);
      };
      const observer = new MutationObserver(() => {
        if (!queued) queued = setTimeout(check, 50);
      });
      observer.observe(D.documentElement, { childList: true, subtree: true, attributes: true });
      const poll = setInterval(check, 250);
      const limit = setTimeout(() => finish(null), ms);
    });
  }

  function selectorsText(target) {
    return (target.selectors || []).join(', ').slice(0, 300);
  }

  function conditionsMet(guide) {
    const elements = guide.elements || {};
    const count = (selector) => {
      try {
        return D.querySelectorAll(selector).length;
      } catch (error) {
        return 0;
      }
    };
    if ((elements.absent || []).some(count)) return Promise.resolve(false);
    const present = elements.present || [];
    if (!present.length) return Promise.resolve(true);
    return waitFor(() => present.every(count), DEFAULT_WAIT_MS).then(Boolean);
  }

  /* ---------- the shadow layer ---------- */

  const HOST_STYLE = {
    all: 'initial', display: 'block', position: 'fixed', top: '0', left: '0', width: '0', height: '0',
    margin: '0', padding: '0', border: '0', overflow: 'visible', background: 'transparent', 'z-index': '2147483647',
    transform: 'none', filter: 'none', opacity: '1', visibility: 'visible', contain: 'none', 'pointer-events': 'none',
    'clip-path': 'none', inset: 'auto',
  };
  const layers = new WeakMap();

  // The nonce on the runtime's tag in `doc`. Guidegate only injects into a page whose policy lets
  // that nonce load the runtime's stylesheet as well, when a nonce is needed at all.
  function nonceOf(doc) {
    const tag = doc.querySelector('script[data-guidegate-app]');
    return (tag && tag.nonce) || null;
  }

  // The shadow root UI of a document (this one, or a same-origin frame's), created on first use.
  // Page CSS cannot reach inside it; the host's own styles are set inline with !important.
  function layer(doc) {
    let found = layers.get(doc);
    if (!found) {
      const host = doc.createElement('guidegate-ui');
      for (const name in HOST_STYLE) host.style.setProperty(name, HOST_STYLE[name], 'important');
      const root = host.attachShadow({ mode: 'open' });
      const sheet = h('link', { rel: 'stylesheet', href: CSS_URL, nonce: nonceOf(doc) });
      const box = h('div', { class: 'gg-root' });
      root.append(sheet, box);
      const ready = new Promise((resolve) => {
        sheet.addEventListener('load', resolve);
        sheet.addEventListener('error', resolve);
        setTimeout(resolve, 3000);
      });
      found = { doc, host, root, box, ready };
      layers.set(doc, found);
    }
    if (!found.host.isConnected) {
      doc.documentElement.appendChild(found.host);
      // The top layer puts the UI above every z-index of the page, where the browser has it.
      try {
        found.host.setAttribute('popover', 'manual');
        found.host.showPopover();
      } catch (error) {
        /* z-index 2147483647 still applies */
      }
    }
    return found;
  }

  // The document that shows UI without a target: this one, or the largest frame of a frameset.
  function uiDocument(win) {
    const doc = win.document;
    if (doc.body && doc.body.tagName !== 'FRAMESET') return doc;
    let best = null;
    let area = -1;
    for (let index = 0; index < win.frames.length; index++) {
      const frame = win.frames[index];
      if (!accessible(frame)) continue;
      const size = frame.innerWidth * frame.innerHeight;
      if (size > area) {
        area = size;
        best = frame;
      }
    }
    return best ? uiDocument(best) : doc;
  }

  /* ---------- placement ---------- */

  function viewport(doc) {
    const box = doc.compatMode === 'BackCompat' && doc.body ? doc.body : doc.documentElement;
    const view = doc.defaultView || W;
    return { width: box.clientWidth || view.innerWidth, height: box.clientHeight || view.innerHeight };
  }

  // Place `card` beside `rect` on the preferred side, flipped to a side where it fits, kept inside the viewport.
  function place(card, rect, placement, rtl) {
    const view = viewport(card.ownerDocument);
    const width = card.offsetWidth;
    const height = card.offsetHeight;
    const gap = 12;

    const room = {
      bottom: view.height - rect.bottom - gap, top: rect.top - gap,
      right: view.width - rect.right - gap, left: rect.left - gap,
    };
    const need = { bottom: height, top: height, right: width, left: width };
    const start = rtl ? 'left' : 'right';
    const end = rtl ? 'right' : 'left';
    const opposite = { top: 'bottom', bottom: 'top', left: 'right', right: 'left' };
    const order = placement && placement !== 'auto'
      ? [placement, opposite[placement], 'bottom', 'top', start, end]
      : ['bottom', 'top', start, end];
    let side = order.find((candidate) => room[candidate] >= need[candidate]);
    if (!side) side = order.reduce((best, candidate) => (room[candidate] > room[best] ? candidate : best));

    let x;
    let y;
    if (side === 'bottom' || side === 'top') {
      x = rect.left + rect.width / 2 - width / 2;
      y = side === 'bottom' ? rect.bottom + gap : rect.top - gap - height;
    } else {
      y = rect.top + rect.height / 2 - height / 2;
      x = side === 'right' ? rect.right + gap : rect.left - gap - width;
    }
    x = clamp(x, 8, Math.max(8, view.width - width - 8));
    y = clamp(y, 8, Math.max(8, view.height - height - 8));

    card.style.setProperty('left', Math.round(x) + 'px');
    card.style.setProperty('top', Math.round(y) + 'px');
    card.dataset.side = side;
    const arrow = card.querySelector('.gg-arrow');
    if (arrow) {
      const along = side === 'bottom' || side === 'top'
        ? clamp(rect.left + rect.width / 2 - x, 16, width - 16)
        : clamp(rect.top + rect.height / 2 - y, 16, height - 16);
      arrow.style.setProperty('--gg-at', Math.round(along) + 'px');
    }
  }

  function onScreen(rect, doc) {
    const view = viewport(doc);
    return rect.bottom > 0 && rect.right > 0 && rect.top < view.height && rect.left < view.width && (rect.width || rect.height);
  }

  // Scroll `el` into view (through every scrolling container) unless its centre is already visible.
  function reveal(el) {
    const rect = el.getBoundingClientRect();
    const doc = el.ownerDocument;
    const view = viewport(doc);
    const x = rect.left + rect.width / 2;
    const y = rect.top + rect.height / 2;
    const hit = x >= 0 && y >= 0 && x < view.width && y < view.height ? doc.elementFromPoint(x, y) : null;
    if (hit && (hit === el || el.contains(hit) || hit.contains(el))) return;
    el.scrollIntoView({ block: 'center', inline: 'nearest', behavior: REDUCED ? 'auto' : 'smooth' });
  }

  // Keep placed UI in place: updates run on scroll, resize, size changes and a slow poll for other layout shifts.
  const followers = new Set();
  const watchedWindows = new WeakSet();
  let followFrame = 0;
  let followPoll = 0;
  const resizes = W.ResizeObserver ? new ResizeObserver(() => refollow()) : null;

  function refollow() {
    if (followFrame) return;
    followFrame = requestAnimationFrame(() => {
      followFrame = 0;
      followers.forEach((update) => update());
    });
  }

  function follow(update, elements) {
    followers.add(update);
    for (const el of elements) {
      const view = el.ownerDocument.defaultView;
      if (view && !watchedWindows.has(view)) {
        watchedWindows.add(view);
        view.addEventListener('scroll', refollow, { capture: true, passive: true });
        view.addEventListener('resize', refollow, { passive: true });
      }
      if (resizes) resizes.observe(el);
    }
    if (!followPoll) followPoll = setInterval(refollow, 300);
    update();
    return () => {
      followers.delete(update);
      if (resizes) elements.forEach((el) => resizes.unobserve(el));
      if (!followers.size) {
        clearInterval(followPoll);
        followPoll = 0;
      }
    };
  }

  function position(el, left, top, width, height) {
    el.style.setProperty('left', Math.round(left) + 'px');
    el.style.setProperty('top', Math.round(top) + 'px');
    if (width !== undefined) el.style.setProperty('width', Math.round(width) + 'px');
    if (height !== undefined) el.style.setProperty('height', Math.round(height) + 'px');
  }

  /* ---------- cards (the popover and dialog body shared by every kind) ---------- */

  function focusables(container) {
    return [...container.querySelectorAll('button, a[href], input, select, textarea, [tabindex]:not([tabindex="-1"])')]
      .filter((el) => !el.disabled && el.getClientRects().length);
  }

  // A dialog box with a heading, rich body, optional progress line and buttons; ids tie the ARIA labels.
  function card(options) {
    const id = uid();
    const locale = options.locale;
    const box = h('div', {
      class: 'gg-card ' + (options.className || ''), role: options.role || 'dialog', tabindex: '-1',
      'aria-modal': options.modal ? 'true' : null, 'aria-labelledby': id + 't', 'aria-describedby': id + 'b',
      dir: isRtl(locale) ? 'rtl' : 'ltr', lang: locale,
    });

    const head = h('div', { class: 'gg-head' }, h('h2', { id: id + 't', class: 'gg-title' }, options.title || ''));
    if (options.onClose) {
      head.append(h('button', { type: 'button', class: 'gg-x', 'aria-label': say(locale, 'close'), onclick: options.onClose }, '\u00d7'));
    }
    const body = rich(options.body, h('div', { id: id + 'b', class: 'gg-body' }));
    if (options.hint) body.append(h('p', { class: 'gg-hint' }, options.hint));
    box.append(head, body);
    if (options.live !== undefined) box.append(h('p', { class: 'gg-progress', 'aria-live': 'polite' }, options.live));
    const buttons = (options.buttons || []).map((button) =>
      h('button', { type: 'button', class: button.primary ? 'gg-primary' : 'gg-secondary', onclick: button.action }, button.label));
    if (buttons.length) box.append(h('div', { class: 'gg-actions' }, buttons));
    if (options.arrow) box.append(h('div', { class: 'gg-arrow', 'aria-hidden': 'true' }));

    box.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && options.onClose) {
        event.stopPropagation();
        options.onClose();
      } else if (event.key === 'Tab' && options.modal) {
        const all = focusables(box);
        const active = box.getRootNode().activeElement;
        if (!all.length) return;
        if (event.shiftKey && (active === all[0] || active === box)) {
          event.preventDefault();
          all[all.length - 1].focus();
        } else if (!event.shiftKey && active === all[all.length - 1]) {
          event.preventDefault();
          all[0].focus();
        }
      } else if (options.onKey) options.onKey(event);
    });

    box.primary = buttons.find((button) => button.className === 'gg-primary') || null;
    return box;
  }

  function focusInto(box) {
    (box.primary || box).focus({ preventScroll: true });
  }

  function restoreFocus(el) {
    try {
      if (el && el.isConnected && el.focus) el.focus({ preventScroll: true });
    } catch (error) {
      /* the element went away with its page */
    }
  }

  // The element that has focus, looking through open shadow roots; never the runtime's own host.
  function pageFocus() {
    const active = D.activeElement;
    return active && active.tagName !== 'GUIDEGATE-UI' ? active : null;
  }

  /* ---------- walkthroughs ---------- */

  let current = null; // the walkthrough, announcement or hotspot card now showing in this window

  function walkthrough(guide, trigger, from) {
    return new Promise((done) => {
      const steps = guide.steps || [];
      const stepsHere = new Set(guide.steps_here || steps.map((step, index) => index));
      const locale = guideLocale(guide);
      const rtl = isRtl(locale);
      const returnTo = pageFocus();
      let index = from;
      let stopped = false;
      let box = null;
      let ring = null;
      let unfollow = null;
      let undo = [];

      const self = { id: guide.id, stop: () => end(null) };
      current = self;

      function clear() {
        if (unfollow) unfollow();
        undo.forEach((fn) => fn());
        undo = [];
        unfollow = null;
        if (box) box.remove();
        if (ring) ring.remove();
        box = ring = null;
      }

      function end(outcome) {
        if (stopped) return;
        stopped = true;
        clear();
        if (current === self) current = null;
        if (outcome === 'completed') {
          track('guide_completed', { guide: guide.id, revision: guide.revision });
          setState(guide.id, { status: 'completed', step: index });
        } else if (outcome === 'dismissed') {
          track('guide_dismissed', { guide: guide.id, step: index + 1 });
          setState(guide.id, { status: 'ended', dismissed: true, step: index });
          rememberDismissed(guide.id);
        } else if (outcome === 'ended') {
          setState(guide.id, { status: 'ended', step: index });
        }
        if (previewing && outcome) sessionSet('preview', null);
        restoreFocus(returnTo);
        done();
      }

      function next() {
        track('guide_step_completed', { guide: guide.id, step: index + 1 });
        if (index >= steps.length - 1) end('completed');
        else show(index + 1);
      }

      function back() {
        if (index > 0 && stepsHere.has(index - 1)) show(index - 1);
      }

      async function show(at) {
        clear();
        if (stopped) return;
        if (at >= steps.length) return end('completed');
        index = at;
        if (!stepsHere.has(at)) {
          // The step shows on another page: keep the state and wait for that page.
          setState(guide.id, { status: 'active', step: at });
          if (previewing) sessionSet('preview', { id: guide.id, step: at });
          stopped = true;
          if (current === self) current = null;
          restoreFocus(returnTo);
          return done();
        }

        const step = steps[at];
        if (stateOf(guide.id).step !== at || stateOf(guide.id).status !== 'active') setState(guide.id, { status: 'active', step: at });
        if (previewing) sessionSet('preview', { id: guide.id, step: at });

        let target = null;
        if (step.target) {
          target = await waitFor(() => findTarget(step.target), waitMs(step.target));
          if (stopped) return;
          if (!target) {
            track('target_missing', { guide: guide.id, step: at + 1, selector: selectorsText(step.target) });
            if (previewing) console.warn('Guidegate preview: no element for step %d (%s)', at + 1, selectorsText(step.target));
            return step.on_missing === 'end' ? end('ended') : show(at + 1);
          }
        }

        const ui = layer(target ? target.ownerDocument : uiDocument(W));
        await ui.ready;
        if (stopped) return;
        render(ui, step, target, at);
        track('guide_step_viewed', { guide: guide.id, step: at + 1 });
      }

      function render(ui, step, target, at) {
        const last = at === steps.length - 1;
        const mode = step.advance || 'button';
        const buttons = [];
        if (at > 0 && stepsHere.has(at - 1)) buttons.push({ label: say(locale, 'back'), action: back });
        if (mode === 'button') buttons.push({ label: say(locale, last ? 'done' : 'next'), action: next, primary: true });
        const hint = { click: say(locale, 'click'), change: say(locale, 'change'), page: say(locale, 'page') }[mode] || '';

        box = card({
          locale, title: pick(step.title, locale, guide.locale) || pick(guide.title, locale, guide.locale),
          body: pick(step.body, locale, guide.locale), hint, buttons, arrow: Boolean(target),
          live: say(locale, 'step', { n: at + 1, m: steps.length }),
          className: target ? 'gg-pop' : 'gg-pop gg-center',
          onClose: guide.dismissible === false ? null : () => end('dismissed'),
          onKey: (event) => {
            const forward = rtl ? 'ArrowLeft' : 'ArrowRight';
            const backward = rtl ? 'ArrowRight' : 'ArrowLeft';
            if (event.key === forward && mode === 'button') {
              event.preventDefault();
              next();
            } else if (event.key === backward) {
              event.preventDefault();
              back();
            }
          },
        });
        box.dataset.guide = guide.id;
        box.dataset.step = String(at + 1);
        ui.box.append(box);

        if (target) {
          ring = h('div', { class: 'gg-ring', 'aria-hidden': 'true' });
          ui.box.append(ring);
          reveal(target);
          unfollow = follow(() => {
            const rect = target.getBoundingClientRect();
            const shown = target.isConnected && onScreen(rect, target.ownerDocument);
            ring.classList.toggle('gg-hidden', !shown);
            position(ring, rect.left - 4, rect.top - 4, rect.width + 8, rect.height + 8);
            place(box, rect, step.placement, rtl);
          }, [target, box]);
          listen(target, mode);
        }

        if (target && (mode === 'click' || mode === 'change') && target.matches('input, select, textarea, button, a[href], [tabindex]')) {
          target.focus({ preventScroll: true });
        } else focusInto(box);
      }

      function listen(target, mode) {
        const doc = target.ownerDocument;
        const add = (type, handler) => {
          doc.addEventListener(type, handler, true);
          undo.push(() => doc.removeEventListener(type, handler, true));
        };
        if (mode === 'click') add('click', (event) => target.contains(event.target) && next());
        if (mode === 'change') add('change', (event) => target.contains(event.target) && next());
        add('keydown', (event) => {
          if (event.key === 'Escape' && target.contains(event.target) && guide.dismissible !== false) end('dismissed');
        });
      }

      if (trigger !== 'resume') {
        setState(guide.id, { status: 'active', step: from, shown: true, dismissed: false });
        track('guide_shown', { guide: guide.id, trigger, locale, revision: guide.revision });
      }
      show(from);
    });
  }

  /* ---------- announcements ---------- */

  function announcement(guide, trigger) {
    return new Promise((done) => {
      const locale = guideLocale(guide);
      const returnTo = pageFocus();
      const ui = layer(uiDocument(W));
      const backdrop = h('div', { class: 'gg-backdrop' });
      let closed = false;
      const close = (outcome) => {
        if (closed) return;
        closed = true;
        backdrop.remove();
        if (current === self) current = null;
        if (outcome === 'completed') {
          track('guide_completed', { guide: guide.id, revision: guide.revision });
          setState(guide.id, { status: 'completed' });
        } else if (outcome === 'dismissed') {
          track('guide_dismissed', { guide: guide.id });
          setState(guide.id, { status: 'ended', dismissed: true });
          rememberDismissed(guide.id);
        }
        restoreFocus(returnTo);
        done();
      };
      const self = { id: guide.id, stop: () => close(null) };
      current = self;
      const box = card({
        locale, modal: true, className: 'gg-modal', title: pick(guide.title, locale, guide.locale),
        body: pick(guide.body, locale, guide.locale),
        buttons: [{ label: say(locale, 'ok'), action: () => close('completed'), primary: true }],
        onClose: guide.dismissible === false ? null : () => close('dismissed'),
      });
      box.dataset.guide = guide.id;
      backdrop.append(box);
      ui.ready.then(() => {
        if (closed) return;
        ui.box.append(backdrop);
        focusInto(box);
        setState(guide.id, { shown: true });
        track('guide_shown', { guide: guide.id, trigger, locale, revision: guide.revision });
      });
    });
  }

  /* ---------- banners ---------- */

  const banners = {};
  const pushed = {};

  // Make room for banners at the page's edges: a margin on <html> moves the page's flow clear of them,
  // and the launcher moves up above a bottom banner. The page's own inline value comes back afterwards.
  function makeRoom(ui) {
    const html = ui.doc.documentElement;
    for (const edge of ['top', 'bottom']) {
      const bars = [...ui.box.querySelectorAll('.gg-banner.gg-' + edge)];
      const size = bars.reduce((sum, bar) => sum + bar.offsetHeight, 0);
      const property = 'margin-' + edge;
      if (!(edge in pushed)) pushed[edge] = [html.style.getPropertyValue(property), html.style.getPropertyPriority(property)];
      if (size) html.style.setProperty(property, size + 'px', 'important');
      else html.style.setProperty(property, pushed[edge][0], pushed[edge][1]);
      ui.box.style.setProperty('--gg-' + edge, size + 'px');
      let offset = 0;
      for (const bar of bars) {
        bar.style.setProperty(edge, offset + 'px');
        offset += bar.offsetHeight;
      }
    }
  }

  function banner(guide, trigger) {
    if (banners[guide.id]) return;
    const locale = guideLocale(guide);
    const ui = layer(uiDocument(W));
    const text = h('div', { class: 'gg-banner-text' }, h('strong', null, pick(guide.title, locale, guide.locale)));
    rich(pick(guide.body, locale, guide.locale), text);
    const bar = h('div', {
      class: 'gg-banner gg-' + (guide.position || 'top'), role: 'region', lang: locale,
      dir: isRtl(locale) ? 'rtl' : 'ltr', 'aria-label': pick(guide.title, locale, guide.locale),
    }, text);
    bar.dataset.guide = guide.id;
    if (guide.dismissible !== false) {
      bar.append(h('button', {
        type: 'button', class: 'gg-x', 'aria-label': say(locale, 'close'),
        onclick: () => {
          bar.remove();
          makeRoom(ui);
          track('guide_dismissed', { guide: guide.id });
          setState(guide.id, { dismissed: true, status: 'ended' });
          rememberDismissed(guide.id);
        },
      }, '\u00d7'));
    }
    banners[guide.id] = bar;
    ui.ready.then(() => {
      ui.box.append(bar);
      makeRoom(ui);
      setState(guide.id, { shown: true });
      track('guide_shown', { guide: guide.id, trigger, locale, revision: guide.revision });
    });
  }

  /* ---------- tips and hotspots ---------- */

  const markers = {};

  // Put the marker of a tip or hotspot beside its target; `open` shows its text at once (help-menu start).
  async function marker(guide, trigger, open) {
    if (markers[guide.id]) {
      if (open) markers[guide.id].open();
      return;
    }
    // A placeholder while the target is awaited, so that a second start neither adds a marker nor is lost.
    let openWhenReady = open;
    markers[guide.id] = { open: () => (openWhenReady = true), remove: () => {} };

    const target = await waitFor(() => findTarget(guide.target || {}), waitMs(guide.target));
    if (!target) {
      delete markers[guide.id];
      track('target_missing', { guide: guide.id, selector: selectorsText(guide.target || {}) });
      return;
    }
    const ui = layer(target.ownerDocument);
    await ui.ready;
    const locale = guideLocale(guide);
    const rtl = isRtl(locale);
    const title = pick(guide.title, locale, guide.locale);
    const hotspot = guide.kind === 'hotspot';
    const popupId = uid();
    const button = h('button', {
      type: 'button', class: hotspot ? 'gg-hotspot' : 'gg-tip', 'aria-expanded': 'false',
      'aria-label': hotspot ? title : say(locale, 'tip') + ': ' + title, 'aria-controls': popupId,
      'aria-haspopup': hotspot ? 'dialog' : null,
    }, hotspot ? '' : '?');
    button.dataset.guide = guide.id;
    let popup = null;
    let counted = false;
    let hideTimer = 0;
    const stopFollow = [];

    const shownOnce = () => {
      if (counted) return;
      counted = true;
      setState(guide.id, { shown: true });
      track('guide_shown', { guide: guide.id, trigger, locale, revision: guide.revision });
    };

    const remove = () => {
      stopFollow.forEach((fn) => fn());
      button.remove();
      if (popup) popup.remove();
      delete markers[guide.id];
    };

    const hide = () => {
      clearTimeout(hideTimer);
      if (!popup) return;
      if (current && current.id === guide.id) current = null;
      popup.remove();
      popup = null;
      button.setAttribute('aria-expanded', 'false');
    };

    const show = (focus) => {
      clearTimeout(hideTimer);
      if (popup) return;
      if (hotspot) {
        if (current && current.id !== guide.id) current.stop();
        const returnTo = pageFocus() || button;
        const closeWith = (outcome) => {
          hide();
          if (outcome === 'completed') {
            track('guide_completed', { guide: guide.id, revision: guide.revision });
            setState(guide.id, { status: 'completed' });
          } else {
            track('guide_dismissed', { guide: guide.id });
            setState(guide.id, { dismissed: true, status: 'ended' });
            rememberDismissed(guide.id);
          }
          remove();
          restoreFocus(returnTo.isConnected ? returnTo : null);
        };
        popup = card({
          locale, className: 'gg-pop', arrow: true, title, body: pick(guide.body, locale, guide.locale),
          buttons: [{ label: say(locale, 'ok'), action: () => closeWith('completed'), primary: true }],
          onClose: guide.dismissible === false ? null : () => closeWith('dismissed'),
        });
        popup.addEventListener('keydown', (event) => {
          if (event.key === 'Escape' && guide.dismissible === false) {
            hide();
            button.focus();
          }
        });
        current = { id: guide.id, stop: hide };
      } else {
        popup = h('div', { class: 'gg-tooltip', role: 'tooltip', lang: locale, dir: rtl ? 'rtl' : 'ltr' });
        rich(pick(guide.body, locale, guide.locale), popup);
        popup.append(h('div', { class: 'gg-arrow', 'aria-hidden': 'true' }));
        button.setAttribute('aria-describedby', popupId);
      }
      popup.id = popupId;
      popup.dataset.guide = guide.id;
      ui.box.append(popup);
      button.setAttribute('aria-expanded', 'true');
      refollow();
      place(popup, target.getBoundingClientRect(), guide.placement, rtl);
      if (hotspot && focus) focusInto(popup);
      shownOnce();
    };

    const hideSoon = () => {
      if (hotspot) return;
      clearTimeout(hideTimer);
      hideTimer = setTimeout(hide, 150);
    };

    button.addEventListener('click', () => (popup && hotspot ? hide() : show(true)));
    if (!hotspot) {
      button.addEventListener('mouseenter', () => show(false));
      button.addEventListener('mouseleave', hideSoon);
      button.addEventListener('focus', () => show(false));
      button.addEventListener('blur', hideSoon);
      button.addEventListener('keydown', (event) => event.key === 'Escape' && hide());
      const doc = target.ownerDocument;
      const onFocus = (event) => target.contains(event.target) && show(false);
      const onBlur = (event) => target.contains(event.target) && hideSoon();
      const onKey = (event) => event.key === 'Escape' && target.contains(event.target) && hide();
      doc.addEventListener('focusin', onFocus, true);
      doc.addEventListener('focusout', onBlur, true);
      doc.addEventListener('keydown', onKey, true);
      stopFollow.push(() => {
        doc.removeEventListener('focusin', onFocus, true);
        doc.removeEventListener('focusout', onBlur, true);
        doc.removeEventListener('keydown', onKey, true);
      });
    }
    ui.box.append(button);
    stopFollow.push(follow(() => {
      const rect = target.getBoundingClientRect();
      const shown = target.isConnected && onScreen(rect, target.ownerDocument);
      button.classList.toggle('gg-hidden', !shown);
      const size = button.offsetWidth || 20;
      // A hotspot sits centred on the target's top corner, a tip marker just after its end edge.
      let x;
      let y;
      if (hotspot) {
        x = (rtl ? rect.left : rect.right) - size / 2;
        y = rect.top - size / 2;
      } else {
        x = rtl ? rect.left - size - 4 : rect.right + 4;
        y = rect.top + rect.height / 2 - size / 2;
      }
      position(button, x, y);
      if (popup) place(popup, rect, guide.placement, rtl);
    }, [target]));
    markers[guide.id] = { open: () => show(true), remove };
    if (openWhenReady) show(true);
  }

  /* ---------- checklists ---------- */

  function checklistView(guide, runtime) {
    const locale = guideLocale(guide);
    const items = guide.items || [];
    const doneCount = items.filter((item) => item.done).length;
    const list = h('ul', { class: 'gg-checklist' });
    for (const item of items) {
      const label = pick(item.title, locale, guide.locale);
      let action;
      if (item.guide) action = h('button', { type: 'button', class: 'gg-link', onclick: () => runtime.start(item.guide, 'checklist') }, label);
      else if (item.link) action = h('a', { href: item.link }, label);
      else action = h('span', null, label);
      list.append(h('li', { class: item.done ? 'gg-done' : '' },
        h('span', { class: 'gg-check', 'aria-hidden': 'true' }, item.done ? '\u2713' : ''),
        h('span', { class: 'gg-sr' }, item.done ? say(locale, 'done') + ': ' : say(locale, 'todo') + ': '), action));
    }
    if (items.length && doneCount === items.length && stateOf(guide.id).status !== 'completed' && !previewing) {
      track('guide_completed', { guide: guide.id, revision: guide.revision });
      setState(guide.id, { status: 'completed' });
    }
    return h('section', { class: 'gg-section', lang: locale, dir: isRtl(locale) ? 'rtl' : 'ltr', 'data-guide': guide.id },
      h('h3', null, pick(guide.title, locale, guide.locale)),
      h('p', { class: 'gg-muted' }, say(locale, 'progress', { n: doneCount, m: items.length })), list);
  }

  /* ---------- frame coordination: one help menu, one automatic guide at a time ---------- */

  // The hub lives in the topmost same-origin window that runs Guidegate; every frame's runtime registers with it.
  function makeHub(win) {
    const hub = {
      win, runtimes: [], owner: null, waiting: [], menu: null,
      register(runtime) {
        if (!hub.runtimes.includes(runtime)) hub.runtimes.push(runtime);
        hub.changed();
      },
      leave(runtime) {
        hub.runtimes = hub.runtimes.filter((other) => other !== runtime);
        hub.waiting = hub.waiting.filter((entry) => entry.runtime !== runtime);
        if (hub.owner === runtime) hub.release();
        hub.changed();
      },
      // Run `task` (which returns a promise) when no other automatic guide is showing in any frame.
      acquire(runtime, task) {
        return new Promise((resolve) => {
          hub.waiting.push({ runtime, task, resolve });
          if (!hub.owner) hub.release();
        });
      },
      release() {
        hub.owner = null;
        const entry = hub.waiting.shift();
        if (!entry) return;
        hub.owner = entry.runtime;
        let result;
        try {
          result = Promise.resolve(entry.task());
        } catch (error) {
          result = Promise.resolve();
        }
        result.catch(() => {}).then(() => {
          entry.resolve();
          if (hub.owner === entry.runtime) hub.release();
        });
      },
      changed() {
        if (hub.menu) hub.menu.refresh();
      },
    };
    return hub;
  }

  function parentHub() {
    try {
      const parent = W.parent;
      if (parent === W || !accessible(parent)) return { hub: null, pending: false };
      if (parent.Guidegate && parent.Guidegate._hub) return { hub: parent.Guidegate._hub, pending: false };
      return { hub: null, pending: parent.document.readyState !== 'complete', parent };
    } catch (error) {
      return { hub: null, pending: false };
    }
  }

  // Find the hub of the top same-origin window, waiting (at most 10 s) for a parent that is still loading.
  function joinHub() {
    return new Promise((resolve) => {
      const found = parentHub();
      if (found.hub || !found.pending) return resolve(found.hub);
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        resolve(parentHub().hub);
      };
      found.parent.addEventListener('load', settle);
      found.parent.addEventListener('DOMContentLoaded', () => setTimeout(settle, 0));
      setTimeout(settle, 10000);
    });
  }

  /* ---------- help menu ---------- */

  function helpMenu(hub) {
    let launcher = null;
    let panel = null;
    let list = null;
    let status = null;
    let searchTimer = 0;
    let lastQuery = '';
    let ui = null;
    const locale = chooseLocale(Object.keys(UI), 'en');
    const rtl = isRtl(locale);

    const entries = () => {
      const seen = new Set();
      const found = [];
      for (const runtime of hub.runtimes) {
        for (const guide of runtime.guides()) {
          // A walkthrough that only continues on this page cannot start here.
          if (seen.has(guide.id) || guide.help_menu === false || guide.starts_here === false) continue;
          seen.add(guide.id);
          found.push({ guide, runtime });
        }
      }
      return found;
    };
    const isAdmin = () => hub.runtimes.some((runtime) => runtime.admin());
    const owner = () => hub.home || hub.runtimes[0];

    function searchable(guide) {
      const glocale = guideLocale(guide);
      const texts = [guide.title, guide.body];
      for (const step of guide.steps || []) texts.push(step.title, step.body);
      for (const item of guide.items || []) texts.push(item.title);
      return norm(texts.map((text) => pick(text, glocale, guide.locale)).join(' '));
    }

    function renderList(query) {
      list.textContent = '';
      const words = norm(query).split(' ').filter(Boolean);
      const all = entries();
      let shown = 0;
      for (const { guide, runtime } of all) {
        if (guide.kind === 'checklist') {
          if (!words.length) list.append(checklistView(guide, runtime));
          continue;
        }
        const haystack = searchable(guide);
        if (!words.every((word) => haystack.includes(word))) continue;
        shown++;
        const glocale = guideLocale(guide);
        list.append(h('li', { lang: glocale, dir: isRtl(glocale) ? 'rtl' : 'ltr' }, h('button', {
          type: 'button', class: 'gg-entry', 'data-guide': guide.id,
          onclick: () => {
            close(false);
            runtime.start(guide.id, 'help_menu');
          },
        }, pick(guide.title, glocale, guide.locale))));
      }
      if (!shown && (words.length || !all.length)) list.append(h('li', { class: 'gg-muted' }, say(locale, 'none')));
    }

    function badge() {
      let open = 0;
      for (const { guide } of entries()) {
        if (guide.kind === 'checklist') open += (guide.items || []).filter((item) => !item.done).length;
      }
      return open;
    }

    function build() {
      ui = layer(uiDocument(hub.win));
      const count = badge();
      launcher = h('button', {
        type: 'button', class: 'gg-launcher' + (rtl ? ' gg-rtl' : ''), 'aria-label': say(locale, 'help'),
        'aria-expanded': 'false', 'aria-haspopup': 'dialog', onclick: () => (panel ? close(true) : open()),
      }, '?', count ? h('span', { class: 'gg-badge', 'aria-hidden': 'true' }, String(count)) : null);
      ui.ready.then(() => ui.box.append(launcher));
    }

    function open(checklistId) {
      if (panel) return;
      const search = h('input', { type: 'search', class: 'gg-search', 'aria-label': say(locale, 'search'), placeholder: say(locale, 'search'), maxlength: '200' });
      list = h('ul', { class: 'gg-list', 'aria-label': say(locale, 'guides') });
      status = h('p', { class: 'gg-status', role: 'status' });

      const actions = [h('button', {
        type: 'button', class: 'gg-secondary',
        onclick: () => {
          if (owner()) owner().track('help_requested', { guide: current ? current.id : undefined });
          status.textContent = say(locale, 'requested');
        },
      }, say(locale, 'request'))];
      if (isAdmin()) {
        actions.push(h('button', { type: 'button', class: 'gg-secondary', onclick: () => { close(false); picker(hub.win.document); } }, say(locale, 'pick')));
      }
      panel = card({ locale, className: 'gg-menu' + (rtl ? ' gg-rtl' : ''), title: say(locale, 'help'), body: '', onClose: () => close(true) });
      panel.querySelector('.gg-body').append(search, list, h('div', { class: 'gg-actions' }, actions), status);

      search.addEventListener('input', () => {
        renderList(search.value);
        clearTimeout(searchTimer);
        searchTimer = setTimeout(recordSearch, 1200);
      });

      renderList('');
      ui.box.append(panel);
      launcher.setAttribute('aria-expanded', 'true');
      if (checklistId) {
        const section = panel.querySelector('[data-guide="' + CSS.escape(checklistId) + '"]');
        if (section) section.scrollIntoView({ block: 'nearest' });
      }
      search.focus({ preventScroll: true });
      if (owner()) owner().track('help_opened', {});
    }

    // Record what the user searched for once typing pauses (or the menu closes), cut to MAX_QUERY characters.
    function recordSearch() {
      clearTimeout(searchTimer);
      searchTimer = 0;
      const query = panel ? panel.querySelector('.gg-search').value.trim().slice(0, MAX_QUERY) : '';
      if (query && query !== lastQuery && owner()) owner().track('search', { query });
      lastQuery = query;
    }

    function close(focusLauncher) {
      if (!panel) return;
      if (searchTimer) recordSearch();
      panel.remove();
      panel = null;
      launcher.setAttribute('aria-expanded', 'false');
      if (focusLauncher) launcher.focus({ preventScroll: true });
    }

    function refresh() {
      if (!launcher) return;
      const count = badge();
      const old = launcher.querySelector('.gg-badge');
      if (old) old.remove();
      if (count) launcher.append(h('span', { class: 'gg-badge', 'aria-hidden': 'true' }, String(count)));
      if (panel) renderList(panel.querySelector('.gg-search').value);
    }

    build();
    return { open, close, refresh, isOpen: () => Boolean(panel) };
  }

  // Show a checklist: in the help menu when this window has one, else as a card of its own.
  function checklist(guide, runtime, trigger) {
    return new Promise((done) => {
      setState(guide.id, { shown: true });
      track('guide_shown', { guide: guide.id, trigger });
      sessionSet('checklist.' + guide.id, true);
      if (runtime.hub && runtime.hub.menu) {
        runtime.hub.menu.open(guide.id);
        return done();
      }
      const ui = layer(uiDocument(W));
      const box = card({ locale: guideLocale(guide), className: 'gg-pop gg-center', title: '', body: '', onClose: () => { box.remove(); done(); } });
      box.querySelector('.gg-body').append(checklistView(guide, runtime));
      ui.ready.then(() => {
        ui.box.append(box);
        focusInto(box);
      });
    });
  }

  /* ---------- element picker (admins) ---------- */

  const GENERATED_ID = /\d{3,}|[0-9a-f]{8,}|^(ember|react|j_id|ext-|yui|gwt|ui-id|mui|:r)/i;
  const STABLE_DATA = /^data-(testid|test|test-id|qa|cy|id|name|field|action|role|key)$/;

  function cssString(value) {
    return '"' + String(value).replace(/["\\]/g, '\\$&').replace(/\n/g, '\\a ') + '"';
  }

  function unique(doc, selector, el) {
    try {
      const found = doc.querySelectorAll(selector);
      return found.length === 1 && found[0] === el;
    } catch (error) {
      return false;
    }
  }

  // Selectors that find `el` alone on the page, most robust first; never chains of positions.
  function selectorsFor(el) {
    const doc = el.ownerDocument;
    const tag = el.tagName.toLowerCase();
    const out = [];
    const push = (selector, text) => {
      if (out.length < 4 && !out.some((entry) => entry.selector === selector && entry.text === text)) out.push({ selector, text });
    };
    const own = [];
    if (el.id && !GENERATED_ID.test(el.id)) own.push('#' + CSS.escape(el.id));
    for (const name of ['name', 'aria-label', 'placeholder', 'title', 'for', 'alt']) {
      const value = el.getAttribute(name);
      if (value && value.length <= 80) own.push(tag + '[' + name + '=' + cssString(value) + ']');
    }
    for (const attribute of el.attributes) {
      if (STABLE_DATA.test(attribute.name) && attribute.value.length <= 80) own.push('[' + attribute.name + '=' + cssString(attribute.value) + ']');
    }
    if (tag === 'a' && el.getAttribute('href') && el.getAttribute('href').length <= 80) own.push('a[href=' + cssString(el.getAttribute('href')) + ']');
    for (const selector of own) if (unique(doc, selector, el)) push(selector);
    const labels = el.labels ? [...el.labels] : [];
    const label = labels.length ? norm(labels[0].textContent).slice(0, 60) : '';
    if (label && labels[0].htmlFor) push('#' + CSS.escape(labels[0].htmlFor));
    const text = String(el.textContent).replace(/\s+/g, ' ').trim().slice(0, 60);
    const matchesText = (other) => textOf(other).includes(norm(text));
    if (text && /^(button|a|label|summary|h[1-6]|th|li|option)$/.test(tag)) {
      if ([...doc.querySelectorAll(tag)].filter(matchesText).length === 1) push(tag, text);
    }
    if (out.length < 2) {
      // Scope by the nearest ancestor that has a stable selector of its own.
      let local = tag;
      const type = el.getAttribute('type');
      if (type) local += '[type=' + cssString(type) + ']';
      for (let parent = el.parentElement; parent && parent !== doc.documentElement; parent = parent.parentElement) {
        const anchor = parent.id && !GENERATED_ID.test(parent.id) ? '#' + CSS.escape(parent.id)
          : parent.getAttribute('name') ? parent.tagName.toLowerCase() + '[name=' + cssString(parent.getAttribute('name')) + ']' : null;
        if (!anchor) continue;
        if (unique(doc, anchor + ' ' + local, el)) push(anchor + ' ' + local);
        else if (text && [...doc.querySelectorAll(anchor + ' ' + local)].filter(matchesText).length === 1) push(anchor + ' ' + local, text);
        break;
      }
    }
    if (!out.length) {
      const siblings = el.parentElement ? [...el.parentElement.children].filter((other) => other.tagName === el.tagName) : [el];
      const parent = el.parentElement && el.parentElement.id ? '#' + CSS.escape(el.parentElement.id) + ' > ' : '';
      push(parent + tag + ':nth-of-type(' + (siblings.indexOf(el) + 1) + ')');
    }
    return out;
  }

  const yamlQuote = (text) => "'" + text.replace(/'/g, "''") + "'";

  function yamlFor(choice, all) {
    const selectors = all.filter((entry) => entry.text === choice.text).map((entry) => yamlQuote(entry.selector));
    let text = 'target:\n  selector: [' + selectors.join(', ') + ']';
    if (choice.text) text += '\n  text: ' + yamlQuote(choice.text);
    return text;
  }

  function picker(doc) {
    if (doc.defaultView.Guidegate && doc.defaultView.Guidegate._picking) return;
    const ui = layer(doc);
    const locale = chooseLocale(Object.keys(UI), 'en');
    const ring = h('div', { class: 'gg-ring gg-pick', 'aria-hidden': 'true' });
    const tag = h('div', { class: 'gg-pick-tag', 'aria-hidden': 'true' });
    const banner = h('div', { class: 'gg-banner gg-bottom gg-passive', role: 'status' }, say(locale, 'pickHint'));
    let panel = null;
    let hovered = null;
    const view = doc.defaultView;
    view.Guidegate && (view.Guidegate._picking = true);

    const highlight = (el) => {
      if (!el || el === hovered || el.tagName === 'GUIDEGATE-UI') return;
      hovered = el;
      const rect = el.getBoundingClientRect();
      position(ring, rect.left - 2, rect.top - 2, rect.width + 4, rect.height + 4);
      const best = selectorsFor(el)[0];
      tag.textContent = best.selector + (best.text ? '  text: ' + best.text : '');
      position(tag, clamp(rect.left, 4, viewport(doc).width - 300), rect.bottom + 6 > viewport(doc).height - 30 ? rect.top - 30 : rect.bottom + 6);
    };
    const onMove = (event) => highlight(event.target);
    const onFocus = (event) => highlight(event.target);
    const onClick = (event) => {
      if (event.target.tagName === 'GUIDEGATE-UI') return;
      event.preventDefault();
      event.stopImmediatePropagation();
      choose(event.target);
    };
    const onKey = (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        stop();
      } else if (event.key === 'Enter' && !panel && event.target.tagName !== 'GUIDEGATE-UI') {
        event.preventDefault();
        event.stopImmediatePropagation();
        choose(event.target);
      }
    };
    const listeners = [['pointermove', onMove], ['focusin', onFocus], ['click', onClick], ['keydown', onKey], ['mousedown', (event) => {
      if (event.target.tagName !== 'GUIDEGATE-UI') event.preventDefault();
    }]];
    listeners.forEach(([type, handler]) => doc.addEventListener(type, handler, true));

    function choose(el) {
      const found = selectorsFor(el);
      if (panel) panel.remove();
      const output = h('textarea', { class: 'gg-code', readonly: true, rows: '4', 'aria-label': 'YAML' });
      output.value = yamlFor(found[0], found);
      const copied = h('span', { class: 'gg-status', role: 'status' });
      panel = card({
        locale, className: 'gg-menu', title: say(locale, 'pick'), body: '', onClose: stop,
        buttons: [{
          label: say(locale, 'copy'), primary: true,
          action: () => {
            output.select();
            const text = output.value;
            const done = () => (copied.textContent = say(locale, 'copied'));
            if (navigator.clipboard && W.isSecureContext) navigator.clipboard.writeText(text).then(done, () => doc.execCommand('copy') && done());
            else if (doc.execCommand('copy')) done();
          },
        }],
      });
      const options = h('ul', { class: 'gg-list' });
      for (const entry of found) {
        options.append(h('li', null, h('code', null, entry.selector + (entry.text ? '  text: ' + entry.text : ''))));
      }
      panel.querySelector('.gg-body').append(options, output, copied);
      panel.dataset.selector = found[0].selector;
      ui.box.append(panel);
      focusInto(panel);
    }

    function stop() {
      listeners.forEach(([type, handler]) => doc.removeEventListener(type, handler, true));
      ring.remove();
      tag.remove();
      banner.remove();
      makeRoom(ui);
      if (panel) panel.remove();
      view.Guidegate && (view.Guidegate._picking = false);
    }

    ui.ready.then(() => {
      ui.box.append(ring, tag, banner);
      makeRoom(ui);
    });
  }

  /* ---------- the runtime of this window ---------- */

  const runtime = {
    hub: null, config: null,
    guides: () => {
      const config = runtime.config;
      if (!config) return [];
      return config.preview ? [config.preview].concat(config.guides.filter((guide) => guide.id !== config.preview.id)) : config.guides;
    },
    admin: () => Boolean(runtime.config && runtime.config.admin),
    track: (kind, fields) => track(kind, fields),
    start: (id, trigger) => startGuide(id, trigger || 'help_menu'),
  };

  function guideById(id) {
    return runtime.guides().find((guide) => guide.id === id) || null;
  }

  function firstStepHere(guide) {
    const indexes = guide.steps_here && guide.steps_here.length ? guide.steps_here : [0];
    return Math.min(...indexes);
  }

  // Show one guide now; resolves when it no longer needs the screen (banners, tips at once).
  async function launch(guide, trigger, from) {
    if (!(await conditionsMet(guide)) && trigger !== 'help_menu' && trigger !== 'preview') return;
    switch (guide.kind) {
      case 'walkthrough':
        return walkthrough(guide, trigger, from === undefined ? firstStepHere(guide) : from);
      case 'announcement':
        return announcement(guide, trigger);
      case 'checklist':
        return checklist(guide, runtime, trigger);
      case 'banner':
        return banner(guide, trigger);
      case 'tip':
      case 'hotspot':
        return marker(guide, trigger, trigger === 'help_menu' || trigger === 'checklist' || trigger === 'preview');
      default:
        return undefined;
    }
  }

  function startGuide(id, trigger) {
    const guide = guideById(id);
    if (!guide) return false;
    if (current) current.stop();
    launch(guide, trigger);
    return true;
  }

  // The step a walkthrough resumes at on this page, or -1; `advanced` when this page load moved it on.
  function resumePoint(guide) {
    const state = stateOf(guide.id);
    if (state.status !== 'active' || state.dismissed) return { at: -1 };
    if ((guide.advanced_here || []).includes(state.step)) return { at: state.step + 1, advanced: state.step };
    if ((guide.steps_here || []).includes(state.step)) return { at: state.step };
    return { at: -1 };
  }

  function automatic(guide) {
    const mode = guide.trigger ? guide.trigger.mode : 'automatic';
    if (mode !== 'automatic' && mode !== 'first_visit') return false;
    if (mode === 'first_visit' && stateOf(guide.id).shown > 0) return false;
    return guide.starts_here !== false && frequencyAllows(guide);
  }

  function bindElementTrigger(guide) {
    const type = guide.trigger.event || 'click';
    const selector = guide.trigger.selector;
    D.addEventListener(type === 'submit' ? 'submit' : type, (event) => {
      const el = event.target;
      let hit = false;
      try {
        hit = Boolean(el && el.closest && el.closest(selector));
      } catch (error) {
        return;
      }
      if (!hit || !frequencyAllows(guide) || (current && current.id === guide.id) || markers[guide.id] || banners[guide.id]) return;
      runtime.hub.acquire(runtime, () => launch(guide, 'element'));
    }, true);
  }

  function run(config) {
    const guides = config.guides.slice().sort((a, b) => (b.priority || 0) - (a.priority || 0));
    const queue = [];
    for (const guide of guides) {
      if (!scheduleAllows(guide, config)) continue;
      if (guide.trigger && guide.trigger.mode === 'element') bindElementTrigger(guide);
      if (guide.kind === 'walkthrough') {
        const point = resumePoint(guide);
        if (point.at >= 0) {
          queue.push({ guide, trigger: 'resume', from: point.at, advanced: point.advanced, first: true });
          continue;
        }
      }
      if (!automatic(guide)) continue;
      if (guide.kind === 'tip' || guide.kind === 'hotspot') launch(guide, guide.trigger.mode);
      else if (guide.kind === 'banner') launch(guide, guide.trigger.mode);
      else if (guide.kind === 'checklist') {
        if (!sessionGet('checklist.' + guide.id) && (guide.items || []).some((item) => !item.done)) queue.push({ guide, trigger: guide.trigger.mode });
      } else queue.push({ guide, trigger: guide.trigger.mode });
    }
    // Walkthroughs in progress go first, then the others in priority order.
    queue.sort((a, b) => (b.first ? 1 : 0) - (a.first ? 1 : 0));
    for (const entry of queue) {
      runtime.hub.acquire(runtime, () => {
        if (entry.advanced !== undefined) track('guide_step_completed', { guide: entry.guide.id, step: entry.advanced + 1 });
        if (entry.trigger === 'resume' && entry.from >= (entry.guide.steps || []).length) {
          track('guide_completed', { guide: entry.guide.id, revision: entry.guide.revision });
          setState(entry.guide.id, { status: 'completed', step: entry.from - 1 });
          return undefined;
        }
        return launch(entry.guide, entry.trigger, entry.from);
      });
    }
  }

  function runPreview(config) {
    const guide = config.preview;
    previewing = guide.id;
    states[guide.id] = Object.assign({}, NEW_STATE);
    const saved = sessionGet('preview');
    const from = saved && saved.id === guide.id && !QUERY.get('guidegate-preview') ? saved.step : undefined;
    // Only a walkthrough carries its preview over to the next pages; other kinds show once.
    sessionSet('preview', guide.kind === 'walkthrough' ? { id: guide.id, step: from || 0 } : null);
    runtime.hub.acquire(runtime, () => launch(guide, 'preview', from));
  }

  function domReady() {
    return D.readyState === 'loading'
      ? new Promise((resolve) => D.addEventListener('DOMContentLoaded', resolve, { once: true }))
      : Promise.resolve();
  }

  // A frameset shows its UI in a frame, which contains a blank placeholder document until it loads,
  // and UI put there would vanish. The window's load event waits for every frame (at most 10 s here).
  function framesLoaded() {
    if (!D.body || D.body.tagName !== 'FRAMESET' || D.readyState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      W.addEventListener('load', resolve, { once: true });
      setTimeout(resolve, 10000);
    });
  }

  function pageUrl() {
    const query = new URLSearchParams(location.search);
    for (const key of [...query.keys()]) if (key.startsWith('guidegate-')) query.delete(key);
    const rest = query.toString();
    return location.pathname + (rest ? '?' + rest : '');
  }

  async function start() {
    const requestedPreview = QUERY.get('guidegate-preview') || (sessionGet('preview') || {}).id || '';
    const params = { url: pageUrl(), frame: (W.name || '').slice(0, 200) };
    if (requestedPreview) params.preview = requestedPreview;
    const configPromise = fetch(endpoint('config', params), { credentials: 'same-origin', cache: 'no-store' })
      .then((response) => (response.ok ? response.json() : null))
      .catch(() => null);

    let hub = await joinHub();
    if (!hub) {
      hub = makeHub(W);
      hub.home = runtime;
      api._hub = hub;
    }
    runtime.hub = hub;
    const config = await configPromise;
    await domReady();
    await framesLoaded();
    if (hub.win === W && !hub.menu) hub.menu = helpMenu(hub);
    if (!config || !Array.isArray(config.guides)) {
      hub.register(runtime);
      return;
    }
    runtime.config = config;
    loadStates(config.state);
    hub.register(runtime);
    if (requestedPreview && !config.preview) {
      sessionSet('preview', null);
      if (QUERY.get('guidegate-preview')) console.warn('Guidegate: the preview of %s needs admin rights', requestedPreview);
    }
    if (config.preview) runPreview(config);
    else run(config);
    if (QUERY.get('guidegate-picker') === '1' && config.admin) picker(uiDocument(W));
  }

  const api = {
    version: VERSION,
    app: APP,
    /** Start a guide of this page by id, as the help menu does; returns false when no such guide applies here. */
    start: (id) => startGuide(id, 'help_menu'),
    /** Open the help menu (in the top frame). */
    openHelp: () => runtime.hub && runtime.hub.menu && runtime.hub.menu.open(),
    /** Start the element picker; admins only. */
    pick: () => runtime.admin() && picker(uiDocument(W)),
    /** Send queued events now. */
    flush: () => flush(false),
    _hub: null,
    _picking: false,
  };
  W.Guidegate = api;

  W.addEventListener('pagehide', () => {
    flush(true);
    if (runtime.hub) runtime.hub.leave(runtime);
  });
  D.addEventListener('visibilitychange', () => D.visibilityState === 'hidden' && flush(true));

  api.ready = start().catch((error) => console.warn('Guidegate runtime failed to start:', error));
})();
