// The page's language for the bundles: base.html sets <html lang> from the reader's setting. Texts are
// written in Chinese and looked up in i18n-en.json for English readers, like the server's gettext
// catalogue (web/translations); tests/web/test_translations.py checks every t("…") has its English.
import ENGLISH from "./i18n-en.json";

export function english() {
  return document.documentElement.lang === "en";
}

// t("已保存 {time}", { time }) — named placeholders in braces, filled after the lookup.
export function t(zh, values = {}) {
  const text = english() ? ENGLISH[zh] || zh : zh;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
