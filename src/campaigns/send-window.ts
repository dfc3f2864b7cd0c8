import type { SendWindow, Weekday } from './campaign-spec.js';

interface LocalTime {
  /** YYYY-MM-DD in the zone. */
  day: string;
  weekday: Weekday;
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

/** The calendar day, weekday and minute of the day of an instant in a time zone. */
export function localTime(instant: Date, timezone: string): LocalTime {
  const parts = Object.fromEntries(formatterFor(timezone).formatToParts(instant).map((part) => [part.type, part.value]));
  const weekday = (parts.weekday ?? 'Sun').toLowerCase().slice(0, 3) as Weekday;
  return {
    day: `${parts.year}-${parts.month}-${parts.day}`,
    weekday,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

/** The local calendar day (YYYY-MM-DD) of an instant in a zone; daily caps count per this day. */
export function localDay(instant: Date, timezone: string): string {
  return localTime(instant, timezone).day;
}

function toMinutes(clock: string): number {
  const [hours, minutes] = clock.split(':').map(Number);
  return (hours ?? 0) * 60 + (minutes ?? 0);
}

/** Whether an instant falls inside the window in the zone; no window means any time. */
export function isInsideWindow(instant: Date, timezone: string, window: SendWindow | null | undefined): boolean {
  if (window === null || window === undefined) return true;
  const local = localTime(instant, timezone);
  const minutes = local.minutes;
  return window.days.includes(local.weekday) && minutes >= toMinutes(window.start) && minutes < toMinutes(window.end);
}

/**
 * The next instant at or after `from` when the window is open (minute precision), found by
 * walking forward; `from` itself when no window applies or it is already open.
 */
export function nextWindowOpening(from: Date, timezone: string, window: SendWindow | null | undefined): Date {
  if (isInsideWindow(from, timezone, window) || window === null || window === undefined) return from;
  const startMinutes = toMinutes(window.start);
  // Step to the next local start-of-window candidate; DST shifts are absorbed by re-checking.
  let candidate = new Date(Math.ceil(from.getTime() / 60_000) * 60_000);
  for (let guard = 0; guard < 8 * 24 * 4; guard += 1) {
    const local = localTime(candidate, timezone);
    if (isInsideWindow(candidate, timezone, window)) return candidate;
    const minutesUntilStart = startMinutes - local.minutes;
    const step = minutesUntilStart > 0 ? minutesUntilStart : 24 * 60 - local.minutes + startMinutes;
    candidate = new Date(candidate.getTime() + Math.max(15, Math.min(step, 24 * 60)) * 60_000);
  }
  return candidate;
}

/** The first instant of the next local day in the zone after `from` (when daily caps reset). */
export function nextLocalMidnight(from: Date, timezone: string): Date {
  const today = localDay(from, timezone);
  const local = localTime(from, timezone);
  let candidate = new Date(from.getTime() + (24 * 60 - local.minutes) * 60_000 - (from.getTime() % 60_000));
  // Adjust for DST: walk back or forward by minutes until the day just turned.
  while (localDay(new Date(candidate.getTime() - 60_000), timezone) !== today) candidate = new Date(candidate.getTime() - 60_000);
  while (localDay(candidate, timezone) === today) candidate = new Date(candidate.getTime() + 60_000);
  return candidate;
}
