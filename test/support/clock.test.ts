import { expect } from 'chai';
import { localTime } from '../../src/campaigns/send-window.js';
import { clockNow, clockOnNext } from './clock.js';

describe('anchored test clocks', () => {
  it('start on or after the real now, so nothing a test holds lies in BullMQ’s past', () => {
    const before = Date.now();
    expect(clockNow().now().getTime()).to.be.at.least(before);
    for (const weekday of ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const) {
      const clock = clockOnNext(weekday, '10:00', 'Asia/Tokyo');
      expect(clock.now().getTime()).to.be.greaterThan(before);
      expect(clock.now().getTime() - before).to.be.below(8 * 86_400_000);
      expect(localTime(clock.now(), 'Asia/Tokyo')).to.include({ weekday, minutes: 600 });
    }
  });

  it('read wall-clock times in their zone, across a daylight-saving change', () => {
    const london = clockOnNext('mon', '09:00', 'Europe/London');
    for (let days = 0; days < 400; days += 37) {
      const instant = london.at(days, '09:30');
      expect(localTime(instant, 'Europe/London').minutes).to.equal(570);
    }
    expect(london.at(1, '00:00').getTime() - london.at(0, '00:00').getTime()).to.be.oneOf([23, 24, 25].map((hours) => hours * 3_600_000));
  });
});
