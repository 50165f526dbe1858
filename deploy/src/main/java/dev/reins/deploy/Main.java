package dev.reins.deploy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.client.ReinsException;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code reins} command: without arguments (or with {@code serve}) it starts one server with
 * the configuration from application.conf (environment variables {@code REINS_*}) over the
 * modules' reference.conf defaults; {@code runs}, {@code delegations} and {@code cluster} speak to a
 * server over the HTTP API (with the Java client); {@code tokens} and {@code keys} manage
 * credentials directly in the journal database; {@code health} asks a running server whether it is
 * ready. Exit codes: 0 done, 1 failed (a run that did not succeed, the server's refusal, the
 * database, a missing token, a server not ready), 2 a usage error.
 */
@Command(
    name = "reins",
    description = "A durable runtime for long-running jobs. Without a command: serve.",
    subcommands = {ServeCommand.class, RunsCommand.class, DelegationsCommand.class, ClusterCommand.class,
        TokensCommand.class, KeysCommand.class, HealthCommand.class, AuditCommand.class, CompletionCommand.class})
public final class Main implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT, description = "Show this help.")
  boolean help;

  private final Supplier<Config> config;
  private final Clock clock;
  private final Function<String, String> environment;

  /**
   * @param config read when a command runs (so {@code --help} works with a broken configuration)
   * @param environment the process's environment variables ({@code REINS_URL}, {@code REINS_TOKEN})
   */
  public Main(Supplier<Config> config, Clock clock, Function<String, String> environment) {
    this.config = config;
    this.clock = clock;
    this.environment = environment;
  }

  public static void main(String[] args) {
    System.exit(commandLine(ConfigFactory::load, Clock.systemUTC(), System::getenv).execute(args));
  }

  /** The command line as {@code main} runs it; tests execute it in-process with their own configuration. */
  public static CommandLine commandLine(Supplier<Config> config, Clock clock) {
    return commandLine(config, clock, System::getenv);
  }

  /** As {@link #commandLine(Supplier, Clock)}, with the environment variables a test gives. */
  public static CommandLine commandLine(Supplier<Config> config, Clock clock, Function<String, String> environment) {
    CommandLine cli = new CommandLine(new Main(config, clock, environment));
    // `reins runs submit sleep 1` and `reins runs submit -- ls -la`: the first word of the command ends the options
    cli.getSubcommands().get("runs").getSubcommands().get("submit").setStopAtPositional(true);
    cli.setUsageHelpWidth(100); // scope names break badly at 80 columns
    inDeclarationOrder(cli);
    cli.setParameterExceptionHandler(Main::usageError);
    cli.setExecutionExceptionHandler((e, command, parsed) -> {
      if (e instanceof Failure || e instanceof ReinsException) {
        // a server's refusal (its problem's detail) or no server at all: a message, not a stack trace
        command.getErr().println(command.getCommandSpec().qualifiedName() + ": " + e.getMessage());
        return CommandLine.ExitCode.SOFTWARE;
      }
      throw e; // a bug: picocli prints the stack trace and exits 1
    });
    return cli;
  }

  @Override
  public Integer call() {
    return ServeCommand.serve(config, spec.commandLine().getErr());
  }

  Config config() {
    return config.get();
  }

  Clock clock() {
    return clock;
  }

  /** An environment variable, or null. */
  String env(String name) {
    return environment.apply(name);
  }

  private static void inDeclarationOrder(CommandLine command) {
    command.getCommandSpec().usageMessage().sortOptions(false);
    command.getSubcommands().values().forEach(Main::inDeclarationOrder);
  }

  /** A short message instead of the whole usage: the error is what the reader needs. */
  private static int usageError(ParameterException e, String[] args) {
    CommandLine command = e.getCommandLine();
    PrintWriter err = command.getErr();
    err.println(command.getCommandSpec().qualifiedName() + ": " + e.getMessage().replaceFirst("^Error: ", ""));
    UnmatchedArgumentException.printSuggestions(e, err);
    err.println("Try '" + command.getCommandSpec().qualifiedName() + " --help' for more information.");
    return command.getCommandSpec().exitCodeOnInvalidInput();
  }

  /** The command could not do its job (database, unknown id): message to stderr, exit code 1. */
  static final class Failure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Failure(String message) {
      super(message);
    }
  }

  /** For a command that only groups subcommands: naming no subcommand is a usage error. */
  static int missingSubcommand(CommandSpec spec) {
    throw new ParameterException(spec.commandLine(), "missing command: one of " + spec.subcommands().keySet());
  }
}
