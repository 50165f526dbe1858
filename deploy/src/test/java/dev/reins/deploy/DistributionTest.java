package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution that package leaves in target/reins: every runtime jar, unshaded, and a launcher
 * that starts Main on a classpath whose order does not depend on the file system. (Runs in the
 * integration-test phase, after package.)
 */
class DistributionTest {
  private static final Path DIST = Path.of("target", "reins").toAbsolutePath();
  private static final Path LAUNCHER = DIST.resolve("bin/reins");

  @Test
  void libHoldsThisModulesJarAndEveryRuntimeDependencyUnshaded() throws IOException {
    assertTrue(Files.isExecutable(LAUNCHER), LAUNCHER + " is executable (run after package)");
    Set<String> lib;
    try (Stream<Path> jars = Files.list(DIST.resolve("lib"))) {
      lib = jars.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    }
    // the runtime classpath as Maven resolved it for ./reins (target/classpath.txt)
    Set<String> expected = Arrays.stream(Files.readString(Path.of("target", "classpath.txt")).trim().split(File.pathSeparator))
        .map(p -> Path.of(p).getFileName().toString())
        .collect(Collectors.toCollection(TreeSet::new));
    assertTrue(lib.containsAll(expected), "missing from lib/: " + difference(expected, lib));
    Set<String> extra = difference(lib, expected);
    assertEquals(1, extra.size(), "lib/ holds the runtime classpath and this module's jar: " + extra);
    assertTrue(extra.iterator().next().startsWith("reins-deploy-"), extra.toString());
  }

  @Test
  void theLauncherPutsReinsJarsFirstInDependencyOrderThenTheRest(@TempDir Path fakeJavaHome) throws Exception {
    // a "java" that prints its arguments, one a line
    Path java = Files.createDirectories(fakeJavaHome.resolve("bin")).resolve("java");
    Files.writeString(java, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    ProcessBuilder pb = new ProcessBuilder(LAUNCHER.toString(), "health", "--url", "http://127.0.0.1:1/");
    pb.environment().put("JAVA_HOME", fakeJavaHome.toString());
    pb.environment().put("REINS_JAVA_OPTS", "-Xmx64m  -Dreins.example=1");
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    List<String> args = out.lines().toList();
    assertEquals(List.of("-Xmx64m", "-Dreins.example=1", "-cp"), args.subList(0, 3), "REINS_JAVA_OPTS, split: " + args);
    assertEquals(List.of("dev.reins.deploy.Main", "health", "--url", "http://127.0.0.1:1/"), args.subList(4, args.size()));

    // where two reference.conf files set one key the first wins: Reins' modules (which set keys of
    // Pekko's) must come before the libraries, dependents before their dependencies
    List<String> classpath = new ArrayList<>(Arrays.asList(args.get(3).split(":")));
    assertEquals(DIST.resolve("lib") + "/*", classpath.remove(classpath.size() - 1), "then every jar of lib/");
    List<String> modules = classpath.stream().map(e -> Path.of(e).getFileName().toString().replaceFirst("-\\d.*$", "")).toList();
    assertEquals(List.of("reins-deploy", "reins-http-api", "reins-runtime", "reins-persistence", "reins-protocol"), modules,
        "the classpath before lib/*: " + classpath);
    for (String entry : classpath) {
      assertTrue(Files.isRegularFile(Path.of(entry)), entry);
    }
  }

  @Test
  void theLauncherStartsTheReinsCommand() throws Exception {
    ProcessBuilder pb = new ProcessBuilder(LAUNCHER.toString(), "--help");
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    for (String command : List.of("serve", "tokens", "keys", "health")) {
      assertTrue(out.contains("\n  " + command + " "), command + " in:\n" + out);
    }
  }

  private static Set<String> difference(Set<String> a, Set<String> b) {
    Set<String> out = new TreeSet<>(a);
    out.removeAll(b);
    return out;
  }
}
