/**
 * `signet` as the package's `bin` runs it (`npx signet …`): the process around runCli, nothing else.
 */
import { runCli } from './main'

void runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  tty: process.stderr.isTTY === true,
  cwd: process.cwd(),
}).then((status) => {
  process.exitCode = status
})
