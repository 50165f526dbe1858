package dev.reins.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** reins.worker.run-as: checked before the server starts, and how a job is launched with it. */
class RunAsTest {

  @Test
  void emptyMeansJobsRunAsTheServersUser() {
    assertEquals(Optional.empty(), RunAs.fromSetting(""));
    assertEquals(Optional.empty(), RunAs.fromSetting("  "));
  }

  @Test
  void aServerThatIsNotRootRefusesToStartWithIt() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunAs.resolve("nobody", 1000));
    assertTrue(e.getMessage().contains("REINS_RUN_AS") && e.getMessage().contains("not root"), e.getMessage());
  }

  @Test
  void aUserThatDoesNotExistIsRefused() {
    Assumptions.assumeTrue(Files.isExecutable(RunAs.SETPRIV), "needs setpriv (util-linux)");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> RunAs.resolve("reins-no-such-user", 0));
    assertTrue(e.getMessage().contains("'reins-no-such-user'") && e.getMessage().contains("no such user"), e.getMessage());
  }

  @Test
  void somethingThatIsNotAUserNameIsRefusedBeforeAnyLookup() {
    Assumptions.assumeTrue(Files.isExecutable(RunAs.SETPRIV), "needs setpriv (util-linux)");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunAs.resolve("--all", 0));
    assertTrue(e.getMessage().contains("not a user name"), e.getMessage());
  }

  @Test
  void aUserIsReadFromThePasswdDatabase() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(RunAs.SETPRIV), "needs setpriv (util-linux)");
    String[] passwd = Files.readAllLines(Path.of("/etc/passwd")).stream()
        .filter(l -> l.startsWith("nobody:")).findFirst()
        .orElseThrow(() -> new org.opentest4j.TestAbortedException("no user nobody in /etc/passwd")).split(":");
    RunAs nobody = RunAs.resolve("nobody", 0);
    assertEquals(new RunAs("nobody", Integer.parseInt(passwd[2]), Integer.parseInt(passwd[3]), passwd[5]), nobody);
  }

  @Test
  void theJobIsLaunchedThroughSetsidThenSetprivWithItsArgvUntouched() {
    RunAs user = new RunAs("worker", 1234, 5678, "/home/worker");
    List<String> argv = ProcessTree.launchArgv(List.of("sh", "-c", "id -u"), Optional.of(user));
    List<String> tail = List.of("/usr/bin/setpriv", "--reuid=1234", "--regid=5678", "--init-groups", "--", "sh", "-c", "id -u");
    assertEquals(tail, argv.subList(argv.size() - tail.size(), argv.size()));
    if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
      assertEquals("/usr/bin/setsid", argv.get(0));
    }
  }
}
