package dev.reins.deploy;

import dev.reins.persistence.auth.TokenStore;
import dev.reins.persistence.auth.TokenStore.SigningKey;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code reins keys}: the keys that sign per-run tokens ({@code REINS_TOKEN} of each attempt).
 * Every node signs with the newest unretired key and verifies with all unretired ones, reloading
 * them every {@code reins.auth.signing-key-refresh}.
 */
@Command(
    name = "keys",
    description = "List, rotate and retire the keys that sign per-run tokens (in the journal database).",
    subcommands = {KeysCommand.ListKeys.class, KeysCommand.Rotate.class, KeysCommand.Retire.class})
final class KeysCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    return Main.missingSubcommand(spec);
  }

  /** A key as listed: never its secret. */
  record KeyView(String kid, String state, Instant createdAt, Instant retiredAt) {}

  @Command(name = "list", description = "List the signing keys: the one nodes sign with, those that still verify, retired ones.")
  static final class ListKeys implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin JournalOptions journal;
    @Mixin Output output;

    @Override
    public Integer call() {
      List<KeyView> keys = views(journal.withStore(TokenStore::signingKeys));
      if (output.json) {
        output.json(spec, keys);
        return 0;
      }
      Output.Table table = new Output.Table("KID", "STATE", "CREATED", "RETIRED");
      for (KeyView k : keys) {
        table.row(k.kid(), k.state(), Output.time(k.createdAt()), Output.time(k.retiredAt()));
      }
      table.print(spec.commandLine().getOut());
      return 0;
    }

    /** Newest first, as the store lists them: the first unretired key is the one nodes sign with. */
    static List<KeyView> views(List<SigningKey> keys) {
      Optional<String> signing = keys.stream().filter(k -> k.retiredAt() == null).map(SigningKey::kid).findFirst();
      return keys.stream().map(k -> new KeyView(k.kid(),
          k.retiredAt() != null ? "retired" : signing.get().equals(k.kid()) ? "signing" : "verifying",
          k.createdAt(), k.retiredAt())).toList();
    }
  }

  @Command(name = "rotate", description = {
      "Add a new signing key. Nodes sign new per-run tokens with it once they have reloaded their keys",
      "(reins.auth.signing-key-refresh, 30s by default); older keys keep verifying until retired."})
  static final class Rotate implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin JournalOptions journal;

    @Override
    public Integer call() {
      SigningKey key = journal.withStore(TokenStore::rotateSigningKey);
      PrintWriter out = spec.commandLine().getOut();
      out.println(key.kid());
      out.flush();
      spec.commandLine().getErr().println("new signing key " + key.kid() + "; servers sign with it within "
          + refresh(journal) + ". Retire the older keys (reins keys retire KID) once no attempt that could hold a "
          + "token signed with them is running.");
      return 0;
    }
  }

  @Command(name = "retire", description = {
      "Retire a signing key: per-run tokens signed with it stop verifying on every node once it has reloaded",
      "its keys (reins.auth.signing-key-refresh, 30s by default). The last unretired key cannot be retired:",
      "rotate first."})
  static final class Retire implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin JournalOptions journal;

    @Parameters(paramLabel = "KID", description = "The key's id (see 'reins keys list').")
    String kid;

    @Override
    public Integer call() {
      String outcome = journal.withStore(store -> {
        List<SigningKey> keys = store.signingKeys();
        Optional<SigningKey> key = keys.stream().filter(k -> k.kid().equals(kid)).findFirst();
        if (key.isEmpty()) {
          return "no signing key with id '" + kid + "'";
        }
        if (key.get().retiredAt() != null) {
          return "the key " + kid + " was already retired at " + Output.time(key.get().retiredAt());
        }
        // Without an unretired key no node could sign a per-run token: no attempt could start.
        if (keys.stream().noneMatch(k -> k.retiredAt() == null && !k.kid().equals(kid))) {
          return kid + " is the only unretired key: nodes need one to sign per-run tokens; run 'reins keys rotate' first";
        }
        return store.retireSigningKey(kid) ? null : "the key " + kid + " was retired meanwhile";
      });
      if (outcome != null) {
        throw new Main.Failure(outcome);
      }
      PrintWriter out = spec.commandLine().getOut();
      out.println("retired " + kid + "; per-run tokens signed with it are refused within " + refresh(journal));
      out.flush();
      return 0;
    }
  }

  private static String refresh(JournalOptions journal) {
    return journal.setting("reins.auth.signing-key-refresh");
  }
}
