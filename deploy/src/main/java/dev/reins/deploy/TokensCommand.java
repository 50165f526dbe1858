package dev.reins.deploy;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.reins.persistence.auth.TokenStore;
import dev.reins.persistence.auth.TokenStore.ApiToken;
import dev.reins.protocol.auth.Scope;
import dev.reins.protocol.auth.Tenants;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code reins tokens}: the API tokens of {@code /v1/admin/tokens}, managed directly in the journal
 * database (for the first token of a tenant, or when no admin token is at hand).
 */
@Command(
    name = "tokens",
    description = "Create, list and revoke API tokens (in the journal database).",
    subcommands = {TokensCommand.Create.class, TokensCommand.ListTokens.class, TokensCommand.Revoke.class})
final class TokensCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    return Main.missingSubcommand(spec);
  }

  @Command(name = "create", description = {
      "Create an API token and print it. The token is shown this once: Reins keeps only its hash."})
  static final class Create implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin JournalOptions journal;
    @Mixin Output output;

    @Option(names = "--name", required = true, paramLabel = "NAME", description = "What the token is for (1 to 200 characters).")
    String name;

    @Option(names = "--tenant", paramLabel = "TENANT", defaultValue = Tenants.DEFAULT,
        description = "Tenant whose runs the token sees (default: ${DEFAULT-VALUE}).")
    String tenant;

    @Option(names = "--scope", required = true, split = ",", paramLabel = "SCOPE", converter = ScopeConverter.class,
        completionCandidates = ScopeNames.class,
        description = "What the token may do, repeatable: ${COMPLETION-CANDIDATES} (admin implies all).")
    List<Scope> scopes;

    @ArgGroup(exclusive = true)
    Expiry expiry;

    static final class Expiry {
      @Option(names = "--expires-in", paramLabel = "DURATION", converter = DurationConverter.class,
          description = "Lifetime, e.g. 30d, 12h, 90m (default: no expiry).")
      Duration in;

      @Option(names = "--expires-at", paramLabel = "INSTANT", converter = InstantConverter.class,
          description = "Expiry time, e.g. 2027-01-01T00:00:00Z.")
      Instant at;
    }

    @Override
    public Integer call() {
      Set<Scope> scopeSet = EnumSet.copyOf(scopes);
      try {
        TokenStore.validate(name, tenant, scopeSet);
      } catch (IllegalArgumentException e) {
        // "tenant: lower-case letters, ..." names the field, which is the option here
        throw new ParameterException(spec.commandLine(), "--" + e.getMessage());
      }
      Instant expiresAt = expiresAt();
      TokenStore.Issued issued = journal.withStore(store -> store.create(name, tenant, scopeSet, expiresAt));
      if (output.json) {
        output.json(spec, issued.token().view(issued.secret()));
        return 0;
      }
      ApiToken t = issued.token();
      PrintWriter out = spec.commandLine().getOut();
      out.println("id:      " + t.id());
      out.println("name:    " + t.name());
      out.println("tenant:  " + t.tenant());
      out.println("scopes:  " + String.join(" ", t.view(null).scopes()));
      out.println("expires: " + (t.expiresAt() == null ? "never" : t.expiresAt()));
      out.println("token (shown this once; use it as 'Authorization: Bearer <token>'):");
      out.println(issued.secret());
      out.flush();
      return 0;
    }

    private Instant expiresAt() {
      if (expiry == null) {
        return null;
      }
      Instant now = journal.clock().instant();
      Instant at = expiry.in != null ? now.plus(expiry.in) : expiry.at;
      if (!at.isAfter(now)) {
        throw new ParameterException(spec.commandLine(), "--expires-at must be in the future (it is " + now + " now)");
      }
      return at;
    }
  }

  @Command(name = "list", description = "List the API tokens (never their secrets), revoked and expired ones too.")
  static final class ListTokens implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin JournalOptions journal;
    @Mixin Output output;

    @Override
    public Integer call() {
      List<ApiToken> tokens = journal.withStore(TokenStore::list);
      if (output.json) {
        output.json(spec, tokens.stream().map(t -> t.view(null)).toList());
        return 0;
      }
      Instant now = journal.clock().instant();
      Output.Table table = new Output.Table("ID", "TENANT", "SCOPES", "STATE", "CREATED", "EXPIRES", "NAME");
      for (ApiToken t : tokens) {
        table.row(t.id(), t.tenant(), String.join(",", t.view(null).scopes()), state(t, now),
            Output.time(t.createdAt()), t.expiresAt() == null ? "never" : Output.time(t.expiresAt()), t.name());
      }
      table.print(spec.commandLine().getOut());
      return 0;
    }

    private static String state(ApiToken t, Instant now) {
      if (t.revokedAt() != null) {
        return "revoked " + Output.time(t.revokedAt());
      }
      return t.usableAt(now) ? "active" : "expired";
    }
  }

  @Command(name = "revoke", description = {
      "Revoke an API token. Every node refuses it once its cache of the token has expired",
      "(reins.auth.token-cache-ttl, 10s by default)."})
  static final class Revoke implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin JournalOptions journal;
    @Mixin Output output;

    @Parameters(paramLabel = "ID", description = "The token's id (see 'reins tokens list').")
    String id;

    @Override
    public Integer call() {
      Optional<ApiToken> revoked = journal.withStore(store -> store.revoke(id));
      if (revoked.isEmpty()) {
        throw new Main.Failure("no token with id '" + id + "'");
      }
      if (output.json) {
        output.json(spec, revoked.get().view(null));
        return 0;
      }
      PrintWriter out = spec.commandLine().getOut();
      out.println("revoked " + id + " (" + revoked.get().name() + ") at " + Output.time(revoked.get().revokedAt())
          + "; servers refuse it within " + journal.setting("reins.auth.token-cache-ttl"));
      out.flush();
      return 0;
    }
  }

  /** {@code runs:read} and the other names of the API, not the enum's constant names. */
  static final class ScopeConverter implements ITypeConverter<Scope> {
    @Override
    public Scope convert(String value) {
      return Scope.parse(value.trim()).orElseThrow(() -> new TypeConversionException(
          "unknown scope '" + value + "' (known: " + String.join(", ", new ScopeNames()) + ")"));
    }
  }

  static final class ScopeNames implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
      return Arrays.stream(Scope.values()).map(Scope::json).iterator();
    }
  }

  /**
   * HOCON's durations ({@code 30d}, {@code 12h}, {@code 90 minutes}), as in the configuration
   * files; a bare number is refused rather than read as milliseconds.
   */
  static final class DurationConverter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      String text = value.trim();
      Duration d;
      try {
        if (text.isEmpty() || !Character.isLetter(text.charAt(text.length() - 1))) {
          throw new ConfigException.BadValue("value", "no unit");
        }
        d = ConfigFactory.parseMap(Map.of("value", text)).getDuration("value");
      } catch (ConfigException e) {
        throw new TypeConversionException("'" + value + "' is not a duration with a unit, e.g. 30d, 12h or 90m");
      }
      if (d.isNegative() || d.isZero()) {
        throw new TypeConversionException("'" + value + "' is not a positive duration");
      }
      return d;
    }
  }

  static final class InstantConverter implements ITypeConverter<Instant> {
    @Override
    public Instant convert(String value) {
      try {
        return Instant.parse(value.trim());
      } catch (DateTimeParseException e) {
        throw new TypeConversionException("'" + value + "' is not an ISO-8601 UTC time such as 2027-01-01T00:00:00Z");
      }
    }
  }
}
