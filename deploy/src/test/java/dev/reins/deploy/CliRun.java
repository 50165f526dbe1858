package dev.reins.deploy;

import com.typesafe.config.Config;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.util.Map;
import picocli.CommandLine;

/** One run of the {@code reins} command line in this JVM, as {@code main} would run it with {@code config} for the environment. */
record CliRun(int exit, String out, String err) {
  static CliRun of(Config config, String... args) {
    return of(config, Map.of(), args);
  }

  /** With these environment variables (and no others). */
  static CliRun of(Config config, Map<String, String> environment, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = Main.commandLine(() -> config, Clock.systemUTC(), environment::get);
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int exit = cli.execute(args);
    return new CliRun(exit, out.toString(), err.toString());
  }
}
