import { ManualClock } from '../../src/core/clock.js';
import { localTime } from '../../src/campaigns/send-window.js';
import { weekdays, type Weekday } from '../../src/campaigns/campaign-spec.js';

/**
 * The only way tests make a manual clock (a lint rule forbids `new ManualClock` and date
 * literals elsewhere in `test/`). BullMQ computes delays against the real clock and Postgres has
 * its own `now()`, so a manual clock pinned to a fixed date expires the day that date passes:
 * a hold "until Tuesday" becomes a hold into the past. Every clock here is anchored on the real
 * now, and every date a test needs is derived from that anchor.
 */
export class AnchoredClock extends ManualClock {
  #anchor: Date;

  constructor(
    anchor: Date,
    /** The zone `at()` reads wall-clock times in. */
    readonly zone: string,
  ) {
    super(anchor);
    this.#anchor = anchor;
  }

  /** Where the clock started, on or after the real now. */
  get anchor(): Date {
    return this.#anchor;
  }

  /** Starts the clock again from a new anchor (taken from another anchored clock). */
  reanchor(from: AnchoredClock): void {
    this.#anchor = from.anchor;
    this.set(from.anchor);
  }

  /**
   * The instant `days` calendar days after the anchor's local day, at `time` (HH:MM or
   * HH:MM:SS) in the clock's zone.
   */
  at(days: number, time: string): Date {
    const day = localTime(this.anchor, this.zone).day;
    const [year, month, date] = day.split('-').map(Number) as [number, number, number];
    const target = new Date(Date.UTC(year, month - 1, date + days));
    return wallClockInstant(target.toISOString().slice(0, 10), time, this.zone);
  }

  /** Moves the clock to {@link at}`(days, time)`. */
  setAt(days: number, time: string): void {
    this.set(this.at(days, time));
  }

  /** The anchor plus `ms`. */
  after(ms: number): Date {
    return new Date(this.anchor.getTime() + ms);
  }

  /** The YYYY-MM-DD of the clock's current instant in `zone` (default: the clock's zone). */
  day(zone = this.zone): string {
    return localTime(this.now(), zone).day;
  }
}

/** The UTC offset of a zone at an instant, in ms (positive east of Greenwich). */
function offsetAt(instant: number, zone: string): number {
  const local = localTime(new Date(instant), zone);
  const [year, month, date] = local.day.split('-').map(Number) as [number, number, number];
  const seconds = new Date(instant).getUTCSeconds() * 1000 + new Date(instant).getUTCMilliseconds();
  return Date.UTC(year, month - 1, date) + local.minutes * 60_000 + seconds - instant;
}

/** The instant a wall clock in `zone` shows `day` (YYYY-MM-DD) at `time`. */
function wallClockInstant(day: string, time: string, zone: string): Date {
  const [year, month, date] = day.split('-').map(Number) as [number, number, number];
  const [hours = 0, minutes = 0, seconds = 0] = time.split(':').map(Number);
  const asUtc = Date.UTC(year, month - 1, date, hours, minutes, seconds);
  // Two passes settle the offset on either side of a DST change.
  let instant = asUtc - offsetAt(asUtc, zone);
  instant = asUtc - offsetAt(instant, zone);
  return new Date(instant);
}

/** A manual clock at the real now, rounded up to a whole second, reading wall-clock times in `zone`. */
export function clockNow(zone = 'UTC'): AnchoredClock {
  return new AnchoredClock(new Date(Math.ceil(Date.now() / 1000) * 1000), zone);
}

/**
 * A manual clock at the next `weekday` at `time` in `zone` that is at least a minute after the
 * real now: e.g. `clockOnNext('mon', '10:00')` is next Monday 10:00 UTC, so everything a test
 * holds "until Tuesday" lies in BullMQ's future whatever the date the suite runs on.
 */
export function clockOnNext(weekday: Weekday, time: string, zone = 'UTC'): AnchoredClock {
  const earliest = Date.now() + 60_000;
  const today = new AnchoredClock(new Date(), zone);
  for (let days = 0; days <= 8; days += 1) {
    const candidate = today.at(days, time);
    if (candidate.getTime() >= earliest && localTime(candidate, zone).weekday === weekday) return new AnchoredClock(candidate, zone);
  }
  throw new Error(`no ${weekday} ${time} in ${zone} within 8 days (is ${weekdays.join('/')} the weekday?)`);
}
