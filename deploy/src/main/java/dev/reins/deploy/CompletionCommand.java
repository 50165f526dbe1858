package dev.reins.deploy;

import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code reins completion}: the bash (and zsh) completion script picocli generates from the commands themselves. */
@Command(name = "completion", description = {
    "Print a bash/zsh completion script for reins, e.g. `source <(./reins completion)` or",
    "`./reins completion > /etc/bash_completion.d/reins`."})
final class CompletionCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getOut().print(AutoComplete.bash("reins", spec.root().commandLine()));
    spec.commandLine().getOut().flush();
    return 0;
  }
}
