// Inline SVG icons (a few hundred bytes each, no icon font), placed into elements marked data-icon="name".
const kStroke = 'fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"';

export const kIcons: Record<string, string> = {
  whale: `<svg viewBox="0 0 32 32" aria-hidden="true"><path fill="currentColor" d="M3 17c0-5.5 4.7-9 11.5-9 6 0 10.3 3 11.3 7.6L29 11.5v8h-3.2C24.4 25 19.8 27 14 27 7.5 27 3 23.5 3 17z"/><circle cx="10" cy="15.5" r="1.5" fill="#fff"/><path fill="none" stroke="#fff" stroke-width="1.4" stroke-linecap="round" d="M7 21c3 2 8 2.4 12 .8"/></svg>`,
  plus: `<svg viewBox="0 0 24 24" ${kStroke}><path d="M12 5v14M5 12h14"/></svg>`,
  up: `<svg viewBox="0 0 24 24" ${kStroke} stroke-width="2.2"><path d="M12 19V5M6 11l6-6 6 6"/></svg>`,
  stop: `<svg viewBox="0 0 24 24"><rect x="7" y="7" width="10" height="10" rx="2" fill="currentColor"/></svg>`,
  copy: `<svg viewBox="0 0 24 24" ${kStroke}><rect x="8" y="8" width="12" height="12" rx="2"/><path d="M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2"/></svg>`,
  check: `<svg viewBox="0 0 24 24" ${kStroke}><path d="M5 12.5l4.5 4.5L19 7.5"/></svg>`,
  redo: `<svg viewBox="0 0 24 24" ${kStroke}><path d="M20 11a8 8 0 1 0-2.3 5.7"/><path d="M20 4v7h-7"/></svg>`,
  chevron: `<svg viewBox="0 0 24 24" ${kStroke}><path d="M8 10l4 4 4-4"/></svg>`,
  menu: `<svg viewBox="0 0 24 24" ${kStroke}><path d="M4 7h16M4 12h16M4 17h16"/></svg>`,
  trash: `<svg viewBox="0 0 24 24" ${kStroke}><path d="M5 7h14M10 7V5h4v2M7 7l1 12h8l1-12"/></svg>`,
  key: `<svg viewBox="0 0 24 24" ${kStroke}><circle cx="8" cy="15" r="4"/><path d="M11 12l8-8M16 7l2 2"/></svg>`,
  atom: `<svg viewBox="0 0 24 24" ${kStroke}><circle cx="12" cy="12" r="1.6" fill="currentColor"/><ellipse cx="12" cy="12" rx="9" ry="3.6"/><ellipse cx="12" cy="12" rx="9" ry="3.6" transform="rotate(60 12 12)"/><ellipse cx="12" cy="12" rx="9" ry="3.6" transform="rotate(120 12 12)"/></svg>`,
};

export function icon(name: string): string {
  return kIcons[name] ?? "";
}

export function fill_icons(root: ParentNode): void {
  for (const el of Array.from(root.querySelectorAll<HTMLElement>("[data-icon]"))) {
    if (!el.firstChild) el.innerHTML = icon(el.dataset.icon ?? "");
  }
}
