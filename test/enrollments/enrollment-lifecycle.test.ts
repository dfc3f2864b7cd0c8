import { expect } from 'chai';
import { checkedMove, reachableStates, tableEdges } from '../../src/core/transition-table.js';
import {
  ENDED_ENROLLMENT_STATES,
  ENROLLMENT_MOVES,
  ENROLLMENT_STATES,
  ENROLLMENT_TRANSITIONS,
  LIVE_ENROLLMENT_STATES,
  REOPENABLE_ENROLLMENT_STATES,
  type EnrollmentState,
} from '../../src/enrollments/enrollment-lifecycle.js';
import { checkedValues } from '../support/schema.js';

describe('enrollment lifecycle', () => {
  it('every edge of the transition table is made by one of its functions, and no function makes another', () => {
    const edgesOfMoves = new Set(ENROLLMENT_MOVES.flatMap((move) => move.from.map((from) => `${from} → ${move.to}`)));
    expect([...edgesOfMoves].sort()).to.deep.equal(tableEdges(ENROLLMENT_TRANSITIONS).sort());
  });

  it('every state is reachable from NEW, and the live and ended sets split the states', () => {
    expect([...reachableStates(ENROLLMENT_TRANSITIONS, ['NEW'])].sort()).to.deep.equal([...ENROLLMENT_STATES].sort());
    expect([...LIVE_ENROLLMENT_STATES, ...ENDED_ENROLLMENT_STATES].sort()).to.deep.equal([...ENROLLMENT_STATES].sort());
    const reopenedFrom = ENDED_ENROLLMENT_STATES.filter((state) => ENROLLMENT_TRANSITIONS[state].length > 0);
    expect([...LIVE_ENROLLMENT_STATES, ...reopenedFrom].sort()).to.deep.equal([...REOPENABLE_ENROLLMENT_STATES].sort());
  });

  it('refuses to declare a move the table does not allow', () => {
    expect(() => checkedMove<EnrollmentState>(ENROLLMENT_TRANSITIONS, ['REPLIED'], 'ACTIVE')).to.throw('the transition table does not allow REPLIED → ACTIVE');
  });

  it('the database admits exactly the states of the type', async () => {
    expect((await checkedValues('campaign_leads_state_check')).sort()).to.deep.equal([...ENROLLMENT_STATES].sort());
  });
});
