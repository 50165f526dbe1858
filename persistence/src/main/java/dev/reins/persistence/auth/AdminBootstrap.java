package dev.reins.persistence.auth;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import java.util.Optional;

/**
 * The first admin token of an installation. With {@code REINS_ADMIN_TOKEN} set there is nothing
 * to do: that value is the admin token. Otherwise the first start on an empty token table creates
 * one and writes it to {@code <data dir>/admin.token}, readable by the server's user only; the log
 * says where it is, never what it is.
 */
public final class AdminBootstrap {
  public static final String FILE_NAME = "admin.token";

  private AdminBootstrap() {}

  /** The file the token was written to, when this start created one. */
  public static Optional<Path> createIfNoTokens(TokenStore store, Path dataDir) throws SQLException, IOException {
    Optional<TokenStore.Issued> issued = store.createBootstrapAdmin();
    if (issued.isEmpty()) {
      return Optional.empty();
    }
    Path file = dataDir.resolve(FILE_NAME);
    writeSecret(file, issued.get().secret());
    return Optional.of(file);
  }

  /** Writes {@code secret} to a new file of mode 0600 (created so: never readable by others, not even briefly). */
  static void writeSecret(Path file, String secret) throws IOException {
    Files.createDirectories(file.getParent());
    Files.deleteIfExists(file);
    Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.WRITE)) {
      w.write(secret);
      w.write('\n');
    }
  }
}
