//! Authentication: key pairs (argon2-hashed secrets), signed expiring tokens, and the admin
//! key pair created at first start.
//!
//! Every request is checked against the caller's current access ([`UserAccess`]): a removed
//! user, a deleted key pair, a token revoked alone (by its id) or with all of its user's (by
//! the epoch it carries) is refused at once, on every replica (the access is re-read whenever
//! a `user` change is announced). Sessions are bounded: renewing a token with a token keeps
//! the time its key pair was verified, and no token outlives [`MAX_SESSION_SECONDS`] from it.
//! The signing key is a file, never a database row.

use crate::error::{Error, Result};
use crate::store::{Principal, Store, UserAccess};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::distributions::{Alphanumeric, DistString};
use runyard_api::{Credentials, Role, Token};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Default and longest token lifetimes, in seconds.
pub const DEFAULT_TOKEN_TTL_SECONDS: u64 = 24 * 3600;
pub const MAX_TOKEN_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// The longest a session lasts from its sign-in with a key pair, renewals included.
pub const MAX_SESSION_SECONDS: i64 = 30 * 24 * 3600;

/// The shortest signing key accepted, in bytes.
const MIN_SIGNING_KEY_BYTES: usize = 32;

/// Verified key pairs kept so HTTP Basic requests do not pay for argon2 every time.
const BASIC_CACHE_ENTRIES: usize = 4096;

/// Failed sign-ins with one access key before it is refused unchecked for a while: a wrong
/// secret costs an argon2 run, so guessing is both slowed and kept from burning the CPU.
const MAX_FAILED_SIGN_INS: u32 = 5;
const SIGN_IN_LOCKOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Failed sign-ins per access key: how many, and when the last one was.
#[derive(Default)]
struct Failures(Mutex<HashMap<String, (u32, std::time::Instant)>>);

impl Failures {
    /// Refuses a key locked out by its failures (the count is forgotten once the lockout ends).
    fn check(&self, key: &str) -> Result<()> {
        let mut map = self.0.lock().expect("failures lock");
        if let Some((count, last)) = map.get(key).copied() {
            let waited = last.elapsed();
            if waited >= SIGN_IN_LOCKOUT {
                map.remove(key);
            } else if count >= MAX_FAILED_SIGN_INS {
                return Err(Error::TooManyAttempts { retry_after: (SIGN_IN_LOCKOUT - waited).as_secs().max(1) });
            }
        }
        Ok(())
    }

    fn failed(&self, key: &str) {
        let mut map = self.0.lock().expect("failures lock");
        if map.len() >= BASIC_CACHE_ENTRIES {
            map.retain(|_, (_, last)| last.elapsed() < SIGN_IN_LOCKOUT);
        }
        let entry = map.entry(key.to_string()).or_insert((0, std::time::Instant::now()));
        *entry = (entry.0 + 1, std::time::Instant::now());
    }

    fn succeeded(&self, key: &str) {
        self.0.lock().expect("failures lock").remove(key);
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    name: String,
    role: Role,
    iat: i64,
    exp: i64,
    /// The token's id, to revoke it alone.
    #[serde(default)]
    jti: String,
    /// Its user's token epoch when it was issued: revoking all their tokens counts it up.
    #[serde(default)]
    epoch: i64,
    /// When the key pair behind the session was verified (renewals keep it); 0 for `iat`.
    #[serde(default)]
    auth_time: i64,
    /// A task's own token: the task and attempt it was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task: Option<crate::store::TaskScope>,
    /// Claims other clients read (e.g. a ClearML client's `api_version`); not checked here.
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

pub struct Auth {
    store: Arc<Store>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// access key -> (sha256 of the secret, its user's id)
    basic_cache: Mutex<HashMap<String, ([u8; 32], String)>>,
    failures: Failures,
}

/// A new access key (24 uppercase letters and digits) and secret (48 characters).
pub fn generate_key_pair() -> (String, String) {
    let access = Alphanumeric.sample_string(&mut rand::thread_rng(), 24).to_ascii_uppercase();
    let secret = Alphanumeric.sample_string(&mut rand::thread_rng(), 48);
    (access, secret)
}

/// Argon2id with OWASP's 7 MiB / 5 passes setting: as strong as the 19 MiB / 2 passes
/// default, with a smaller memory peak per login. Verification reads the parameters from the
/// stored hash, so they can change without invalidating existing keys.
fn hasher() -> Argon2<'static> {
    let params = argon2::Params::new(7 * 1024, 5, 1, None).expect("valid argon2 parameters");
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// An argon2 PHC string for `secret`.
pub fn hash_secret(secret: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(anyhow::anyhow!("hashing a secret: {e}")))
}

fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
}

/// Reads the token signing key from `file`; with `create`, a missing file is made (mode 0600)
/// holding the key an older version kept in the database, or a new one.
async fn signing_key(store: &Store, file: &Path, create: bool) -> Result<String> {
    let config = |message: String| Error::Internal(anyhow::anyhow!(message));
    // Keys used to live in the database; none stays there.
    let legacy = store.take_setting("token_signing_key").await?;
    let key = match std::fs::read_to_string(file) {
        Ok(text) => text.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = legacy.unwrap_or_else(|| Alphanumeric.sample_string(&mut rand::thread_rng(), 64));
            write_private(file, &key).map_err(|e| config(format!("writing {}: {e}", file.display())))?;
            key
        }
        Err(e) => {
            return Err(config(format!(
                "reading the token signing key {}: {e} (every replica needs the same key: create it with \
                 `head -c 48 /dev/urandom | base64 > FILE && chmod 600 FILE`)",
                file.display()
            )))
        }
    };
    if key.len() < MIN_SIGNING_KEY_BYTES {
        return Err(config(format!(
            "the token signing key {} holds under {MIN_SIGNING_KEY_BYTES} bytes",
            file.display()
        )));
    }
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(file).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
        tracing::warn!(file = %file.display(), "the token signing key is readable by other users: chmod 600 it");
    }
    Ok(key)
}

impl Auth {
    /// Loads the token signing key from `key_file` (made there when missing, with `create`).
    pub async fn new(store: Arc<Store>, key_file: &Path, create: bool) -> Result<Auth> {
        let key = signing_key(&store, key_file, create).await?;
        Ok(Auth {
            store,
            encoding: EncodingKey::from_secret(key.as_bytes()),
            decoding: DecodingKey::from_secret(key.as_bytes()),
            basic_cache: Mutex::new(HashMap::new()),
            failures: Failures::default(),
        })
    }

    /// The current access of a user, refused when the user is gone or removed.
    async fn access(&self, user_id: &str) -> Result<Arc<UserAccess>> {
        match self.store.access(user_id).await? {
            Some(access) if !access.disabled => Ok(access),
            _ => Err(Error::Unauthorized("the user was removed".into())),
        }
    }

    /// Checks a key pair and returns its owner.
    pub async fn verify_key_pair(&self, access_key: &str, secret: &str) -> Result<Principal> {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let cached = self.basic_cache.lock().expect("cache lock").get(access_key).cloned();
        if let Some((_, user_id)) = cached.filter(|(d, _)| *d == digest) {
            // Still valid only while the key pair exists and its user was not removed.
            match self.store.access(&user_id).await? {
                Some(a) if !a.disabled && a.keys.contains(access_key) => return Ok(a.principal.clone()),
                _ => {
                    self.basic_cache.lock().expect("cache lock").remove(access_key);
                }
            }
        }
        let refused = || Error::Unauthorized("invalid access key or secret".into());
        self.failures.check(access_key)?;
        let (hash, principal) = self.store.access_key(access_key).await?.ok_or_else(refused)?;
        let secret = secret.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_secret(&secret, &hash))
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        if !ok {
            self.failures.failed(access_key);
            return Err(refused());
        }
        self.failures.succeeded(access_key);
        let mut cache = self.basic_cache.lock().expect("cache lock");
        if cache.len() >= BASIC_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(access_key.to_string(), (digest, principal.user_id.clone()));
        Ok(principal)
    }

    /// Signs a token for `who` starting a session (its key pair was just verified), valid for
    /// `ttl_seconds`.
    pub async fn issue(&self, who: &Principal, ttl_seconds: u64) -> Result<Token> {
        self.sign(who, ttl_seconds, chrono::Utc::now().timestamp(), serde_json::Map::new()).await
    }

    /// A new token for a caller: a key pair (HTTP Basic) starts a session, a token (Bearer)
    /// renews its own, never past [`MAX_SESSION_SECONDS`] from its sign-in. `extra` makes
    /// claims for other clients to read.
    pub async fn login(
        &self,
        header: Option<&str>,
        ttl_seconds: u64,
        extra: impl FnOnce(&Principal) -> serde_json::Map<String, serde_json::Value>,
    ) -> Result<Token> {
        let (who, auth_time) = match header.and_then(|h| h.strip_prefix("Bearer ")) {
            Some(token) => {
                let (who, claims) = self.verify_token(token).await?;
                (who, if claims.auth_time > 0 { claims.auth_time } else { claims.iat })
            }
            None => (self.authenticate(header).await?, chrono::Utc::now().timestamp()),
        };
        let extra = extra(&who);
        self.sign(&who, ttl_seconds, auth_time, extra).await
    }

    async fn sign(
        &self,
        who: &Principal,
        ttl_seconds: u64,
        auth_time: i64,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Token> {
        let access = self.access(&who.user_id).await?;
        let now = chrono::Utc::now().timestamp();
        let exp = (now + ttl_seconds.min(MAX_TOKEN_TTL_SECONDS) as i64).min(auth_time + MAX_SESSION_SECONDS);
        if exp <= now {
            return Err(Error::Unauthorized(format!(
                "the session began over {} days ago: sign in with a key pair again",
                MAX_SESSION_SECONDS / 86_400
            )));
        }
        let claims = Claims {
            sub: who.user_id.clone(),
            name: who.name.clone(),
            role: who.role,
            iat: now,
            exp,
            jti: crate::store::new_id(),
            epoch: access.token_epoch,
            auth_time,
            task: who.task.clone(),
            extra,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(e.into()))?;
        let expires_at = chrono::DateTime::from_timestamp(exp, 0).unwrap_or_default();
        Ok(Token { token, expires_at })
    }

    /// A token's caller and claims: signed by us, unexpired, its user not removed, and not
    /// revoked (alone or with all of its user's).
    async fn verify_token(&self, token: &str) -> Result<(Principal, Claims)> {
        let data = jsonwebtoken::decode::<Claims>(token.trim(), &self.decoding, &Validation::new(Algorithm::HS256))
            .map_err(|e| Error::Unauthorized(format!("invalid token: {e}")))?;
        let c = data.claims;
        let access = self.access(&c.sub).await?;
        if c.epoch != access.token_epoch || access.revoked.contains(&c.jti) {
            return Err(Error::Unauthorized("the token was revoked: sign in again".into()));
        }
        let who = Principal {
            user_id: c.sub.clone(),
            name: access.principal.name.clone(),
            role: access.principal.role,
            task: c.task.clone(),
        };
        Ok((who, c))
    }

    /// Resolves an `Authorization` header value (Bearer token or Basic key pair).
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Principal> {
        let header = header.ok_or_else(|| {
            Error::Unauthorized("authentication required: send a Bearer token or HTTP Basic key pair".into())
        })?;
        if let Some(token) = header.strip_prefix("Bearer ") {
            return Ok(self.verify_token(token).await?.0);
        }
        if let Some(encoded) = header.strip_prefix("Basic ") {
            let (key, secret) = decode_basic(encoded)?;
            return self.verify_key_pair(&key, &secret).await;
        }
        Err(Error::Unauthorized("unsupported Authorization scheme: use Bearer or Basic".into()))
    }

    /// Revokes one token (signing out): refused from then on, on every replica.
    pub async fn revoke(&self, token: &str) -> Result<()> {
        let (who, claims) = self.verify_token(token).await?;
        if claims.jti.is_empty() {
            // Issued before tokens had ids: only revoking all of the user's reaches it.
            return self.store.revoke_tokens(&who.user_id).await;
        }
        self.store.revoke_token(&claims.jti, &who.user_id, claims.exp * 1000).await
    }

    /// A new key pair for an existing user; the secret is shown once.
    pub async fn create_key(&self, user: runyard_api::User) -> Result<Credentials> {
        if user.disabled {
            return Err(Error::Conflict(format!("user '{}' was removed", user.name)));
        }
        let (access_key, secret_key) = generate_key_pair();
        self.store.put_access_key(&user.id, &access_key, &hash_secret(&secret_key)?).await?;
        Ok(Credentials { user, access_key, secret_key })
    }

    /// Creates a user with a fresh key pair.
    pub async fn create_user(&self, name: &str, role: Role) -> Result<Credentials> {
        runyard_api::rules::USER_NAME.check(name).map_err(|m| Error::invalid("name", m))?;
        let (access_key, secret_key) = generate_key_pair();
        let user = self.store.create_user(name.trim(), role, &access_key, &hash_secret(&secret_key)?).await?;
        Ok(Credentials { user, access_key, secret_key })
    }
}

/// Splits a Basic credential into key and secret.
pub fn decode_basic(encoded: &str) -> Result<(String, String)> {
    let bad = || Error::Unauthorized("malformed Basic credentials".into());
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (key, secret) = text.split_once(':').ok_or_else(bad)?;
    Ok((key.to_string(), secret.to_string()))
}

/// The file an admin key pair generated at first start is written to.
pub fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join("credentials.toml")
}

/// Makes sure an admin can log in. With `env_pair` (from `RUNYARD_ACCESS_KEY` and
/// `RUNYARD_SECRET_KEY`) that key pair is made an admin key; otherwise, when no key exists at
/// all, one is generated and written to `<data_dir>/credentials.toml` (mode 0600), whose path
/// is returned.
pub async fn bootstrap_admin(
    store: &Store,
    data_dir: &Path,
    env_pair: Option<(String, String)>,
) -> Result<Option<PathBuf>> {
    if let Some((access, secret)) = env_pair {
        let hash = hash_secret(&secret)?;
        match store.user_by_name("admin").await? {
            Some(admin) => store.put_access_key(&admin.id, &access, &hash).await?,
            None => {
                store.create_user("admin", Role::Admin, &access, &hash).await?;
            }
        }
        return Ok(None);
    }
    if store.count_access_keys().await? > 0 {
        return Ok(None);
    }
    let (access, secret) = generate_key_pair();
    store.create_user("admin", Role::Admin, &access, &hash_secret(&secret)?).await?;
    let path = credentials_path(data_dir);
    let body = format!(
        "# Runyard admin key pair, generated at first start. Keep it secret.\naccess_key = \"{access}\"\nsecret_key = \"{secret}\"\n"
    );
    write_private(&path, &body).map_err(|e| Error::Internal(anyhow::anyhow!("writing {}: {e}", path.display())))?;
    Ok(Some(path))
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, body: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(path)?;
    f.write_all(body.as_bytes())
}
