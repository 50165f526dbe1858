package dev.reins.deploy;

import com.typesafe.config.Config;
import dev.reins.http.ReinsServer;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code reins serve}: what {@code reins} without a command does. */
@Command(
    name = "serve",
    description = {
        "Start a server (configuration: REINS_* environment variables, see README.md).",
        "Runs until SIGTERM or SIGINT, which stop its processes too."})
final class ServeCommand implements Callable<Integer> {
  @ParentCommand Main main;
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    return serve(main::config, spec.commandLine().getErr());
  }

  /**
   * Starts the server and blocks until its actor system has terminated (Pekko's coordinated
   * shutdown on SIGTERM/SIGINT); 1 if it could not start.
   */
  static int serve(Supplier<Config> config, PrintWriter err) {
    ReinsServer server;
    try {
      server = ReinsServer.start(config.get());
    } catch (RuntimeException e) {
      err.println(e.getMessage());
      return 1;
    }
    server.system().getWhenTerminated().toCompletableFuture().join();
    return 0;
  }
}
