package dev.reins.runtime.worker;

import com.sun.security.auth.module.UnixSystem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The user every job's process runs as ({@code reins.worker.run-as}, {@code REINS_RUN_AS}) when
 * the server runs as root: its uid, its primary group, its supplementary groups and its home.
 *
 * <p>The switch is made by {@code setpriv} (util-linux, like the {@code setsid} the launch already
 * uses): Java cannot change a child's user itself, and unlike {@code su} or {@code runuser}
 * setpriv opens no PAM session, needs no shell and replaces itself with the job ({@code exec}),
 * so the pid the worker records and signals is the job's own.
 */
public record RunAs(String user, int uid, int gid, String home) {
  static final Path SETPRIV = Path.of("/usr/bin/setpriv");
  private static final Pattern USER_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]*\\$?");
  /** What jobs must not read or change in the data directory: the journal, attempt logs, pid files. */
  private static final List<String> SERVER_ONLY = List.of("journal", "logs", "workers");

  /** Empty when {@code user} is blank; else the user, checked: the server refuses to start otherwise. */
  public static Optional<RunAs> fromSetting(String user) {
    if (user == null || user.isBlank()) {
      return Optional.empty();
    }
    return Optional.of(resolve(user.trim(), new UnixSystem().getUid()));
  }

  /** @param serverUid the uid the server runs as; only root may start processes as another user */
  static RunAs resolve(String user, long serverUid) {
    String setting = "reins.worker.run-as (REINS_RUN_AS) is '" + user + "'";
    if (serverUid != 0) {
      throw new IllegalArgumentException(setting + ", but the server runs as uid " + serverUid
          + ", not root: only root can start jobs as another user. Unset it, or start the server as root.");
    }
    if (!Files.isExecutable(SETPRIV)) {
      throw new IllegalArgumentException(setting + ", but " + SETPRIV + " (util-linux) is missing: it switches the job's user.");
    }
    if (!USER_NAME.matcher(user).matches()) {
      throw new IllegalArgumentException(setting + ": not a user name.");
    }
    String entry = passwdEntry(user)
        .orElseThrow(() -> new IllegalArgumentException(setting + ", but there is no such user on this machine."));
    // name:password:uid:gid:gecos:home:shell
    String[] f = entry.split(":", -1);
    if (f.length < 7) {
      throw new IllegalArgumentException(setting + ": unreadable passwd entry '" + entry + "'.");
    }
    return new RunAs(f[0], Integer.parseInt(f[2]), Integer.parseInt(f[3]), f[5]);
  }

  /** The user's passwd entry through NSS ({@code getent}), so LDAP or sssd users work too. */
  private static Optional<String> passwdEntry(String user) {
    try {
      Process p = new ProcessBuilder("getent", "passwd", user)
          .redirectError(ProcessBuilder.Redirect.DISCARD)
          .start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("getent passwd " + user + " did not answer within 10 s");
      }
      return p.exitValue() == 0 && !out.isEmpty() ? Optional.of(out.lines().findFirst().orElseThrow()) : Optional.empty();
    } catch (IOException e) {
      throw new IllegalStateException("cannot look up user " + user + " with getent: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while looking up user " + user, e);
    }
  }

  /**
   * What goes before the job's argv: set real and effective uid and gid, and the user's
   * supplementary groups (initgroups), then exec the job. {@code --} ends setpriv's options, so
   * the job's own (say {@code sh -c}) are never read as setpriv's.
   */
  List<String> launchPrefix() {
    return List.of(SETPRIV.toString(), "--reuid=" + uid, "--regid=" + gid, "--init-groups", "--");
  }

  /** Gives the job's directory to the user: the job writes there, the server never has to. */
  void handOver(Path workdir) throws IOException {
    Files.setAttribute(workdir, "unix:gid", gid);
    Files.setAttribute(workdir, "unix:uid", uid);
  }

  /**
   * Makes what the server keeps under the data directory readable by the server only: a job of
   * another user must not read the journal (the signing keys of per-run tokens live there, and the
   * lock file holds the key of the embedded database's auto-server), other runs' output or the
   * pid files.
   */
  public static void keepFromJobs(Path dataDir) throws IOException {
    for (String name : SERVER_ONLY) {
      Path dir = dataDir.resolve(name);
      if (!name.equals("journal")) {
        Files.createDirectories(dir);
      }
      if (Files.isDirectory(dir)) {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      }
    }
  }
}
