import { oneLine } from '../../src/report/summary'

describe('log lines (actionsLogger.info writes each through oneLine)', () => {
  it('keep quoted text on one line, so it cannot start a workflow command', () => {
    expect(oneLine('❌ image: got evil\n::add-mask::secret\r\n::error::no')).toBe(
      '❌ image: got evil ::add-mask::secret ::error::no',
    )
    expect(oneLine('plain')).toBe('plain')
  })
})
