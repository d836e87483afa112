// Working-day timers as the shipped diagrams write them. A timer's timeDate is a Python expression;
// deadline_in(n) (engine/runtime.py) is the end of the n-th working day from when the timer starts —
// the same rule as a task's dueWorkingDays. A boundary timer on a task whose deadline is D working
// days can therefore be written "到期前 N 个工作日" (deadline_in(D − N)), "到期时" (deadline_in(D)) or
// "逾期 N 个工作日后" (deadline_in(D + N)). An ISO duration goes in timeDuration, quoted: "PT1H".

import { t } from "./_i18n.js";

export const MODES = [
  { value: "after", label: t("N 个工作日后"), needsDue: false, days: true },
  { value: "before_due", label: t("到期前 N 个工作日"), needsDue: true, days: true },
  { value: "at_due", label: t("到期时"), needsDue: true, days: false },
  { value: "after_due", label: t("逾期 N 个工作日后"), needsDue: true, days: true },
  { value: "duration", label: t("时长（ISO 8601，如 PT1H）"), needsDue: false, days: false },
  { value: "custom", label: t("自定义表达式"), needsDue: false, days: false },
];

const DEADLINE = /^\s*deadline_in\(\s*(\d+)\s*\)\s*$/;
const ISO = /^\s*["']?(P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?)["']?\s*$/;

export function isIsoDuration(text) {
  return ISO.test(text || "");
}

// {mode, days, duration} of a timer's expression. ``kind`` is timeDate, timeDuration or timeCycle;
// ``due`` the attached task's dueWorkingDays (a number) or null.
export function readTimer(kind, body, due) {
  const text = body || "";
  const match = kind === "timeDate" ? DEADLINE.exec(text) : null;
  if (match) {
    const n = Number(match[1]);
    if (due == null) return { mode: "after", days: n };
    if (n < due) return { mode: "before_due", days: due - n };
    if (n === due) return { mode: "at_due", days: 0 };
    return { mode: "after_due", days: n - due };
  }
  if (kind === "timeDuration" && ISO.test(text)) return { mode: "duration", duration: ISO.exec(text)[1] };
  return { mode: text.trim() ? "custom" : "after", days: 1 };
}

// The {kind, body} to write for a mode; null when it cannot be written (no deadline to count from).
export function writeTimer(mode, days, due, duration) {
  const n = Math.max(0, Math.floor(Number(days) || 0));
  switch (mode) {
    case "after":
      return { kind: "timeDate", body: `deadline_in(${n})` };
    case "before_due":
      return due == null ? null : { kind: "timeDate", body: `deadline_in(${Math.max(due - n, 0)})` };
    case "at_due":
      return due == null ? null : { kind: "timeDate", body: `deadline_in(${due})` };
    case "after_due":
      return due == null ? null : { kind: "timeDate", body: `deadline_in(${due + n})` };
    case "duration":
      return isIsoDuration(duration) ? { kind: "timeDuration", body: `"${duration.trim().replace(/["']/g, "")}"` } : null;
    default:
      return null;
  }
}
