//! Key-value stores shared by every worker, from wasmcluster's own host
//! module (see ../../ABI.md, "Key-value stores").
//!
//! ```ignore
//! let hits = wasmcluster_guest::kv::default().increment("hits", 1)?;
//! ```

use crate::capabilities::result;

/// What a failed call gives: the host's message, or not found or conflict.
pub use crate::capabilities::Error;

/// The raw imports of the key-value functions.
pub mod sys {
    #[link(wasm_import_module = "wasmcluster")]
    extern "C" {
        pub fn kv_get(s: *const u8, sl: i32, k: *const u8, kl: i32, buf: *mut u8, limit: i32) -> i64;
        pub fn kv_set(s: *const u8, sl: i32, k: *const u8, kl: i32, v: *const u8, vl: i32, ttl_ms: i64) -> i64;
        pub fn kv_delete(s: *const u8, sl: i32, k: *const u8, kl: i32) -> i64;
        pub fn kv_exists(s: *const u8, sl: i32, k: *const u8, kl: i32) -> i64;
        pub fn kv_list(s: *const u8, sl: i32, p: *const u8, pl: i32, a: *const u8, al: i32, limit: i32, buf: *mut u8, buf_limit: i32) -> i64;
        pub fn kv_increment(s: *const u8, sl: i32, k: *const u8, kl: i32, delta: i64, buf: *mut u8, limit: i32) -> i64;
        pub fn kv_cas(s: *const u8, sl: i32, k: *const u8, kl: i32, o: *const u8, ol: i32, v: *const u8, vl: i32, ttl_ms: i64) -> i64;
    }
}

/// A named store; the operator decides which names a guest is given.
pub struct Store {
    name: String,
}

/// The store called `name`. Calls on a store not given to the guest fail.
pub fn open(name: &str) -> Store {
    Store { name: name.to_string() }
}

/// The store called "default".
pub fn default() -> Store {
    open("default")
}

/// A call that answers with a code only: Ok(true) on 0, Ok(false) on
/// `miss` (not found or conflict), the error otherwise.
fn found(r: i64, miss: Error) -> Result<bool, Error> {
    match result(r, Vec::new()) {
        Ok(_) => Ok(true),
        Err(e) if e == miss => Ok(false),
        Err(e) => Err(e),
    }
}

impl Store {
    fn name(&self) -> (*const u8, i32) {
        (self.name.as_ptr(), self.name.len() as i32)
    }

    /// The value of `key`, or None when it is not set.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let (s, sl) = self.name();
        let mut buf = vec![0u8; 4096];
        let r = unsafe { sys::kv_get(s, sl, key.as_ptr(), key.len() as i32, buf.as_mut_ptr(), buf.len() as i32) };
        match result(r, buf) {
            Ok(v) => Ok(Some(v)),
            Err(Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets `key` to `value`; `ttl_ms` > 0 expires it after that.
    pub fn set(&self, key: &str, value: &[u8], ttl_ms: i64) -> Result<(), Error> {
        let (s, sl) = self.name();
        let r = unsafe { sys::kv_set(s, sl, key.as_ptr(), key.len() as i32, value.as_ptr(), value.len() as i32, ttl_ms) };
        result(r, Vec::new()).map(|_| ())
    }

    /// Removes `key`; whether it was set.
    pub fn delete(&self, key: &str) -> Result<bool, Error> {
        let (s, sl) = self.name();
        found(unsafe { sys::kv_delete(s, sl, key.as_ptr(), key.len() as i32) }, Error::NotFound)
    }

    /// Whether `key` is set.
    pub fn exists(&self, key: &str) -> Result<bool, Error> {
        let (s, sl) = self.name();
        found(unsafe { sys::kv_exists(s, sl, key.as_ptr(), key.len() as i32) }, Error::NotFound)
    }

    /// Up to `limit` keys (0: the host's most) that start with `prefix`,
    /// in byte order, after `after` ("" for the first page).
    pub fn list(&self, prefix: &str, after: &str, limit: i32) -> Result<Vec<String>, Error> {
        let (s, sl) = self.name();
        let mut buf = vec![0u8; 4096];
        let r = unsafe {
            sys::kv_list(s, sl, prefix.as_ptr(), prefix.len() as i32, after.as_ptr(), after.len() as i32, limit,
                buf.as_mut_ptr(), buf.len() as i32)
        };
        let out = result(r, buf)?;
        Ok(out.split(|b| *b == 0).filter(|k| !k.is_empty()).map(|k| String::from_utf8_lossy(k).into_owned()).collect())
    }

    /// Adds `delta` to the counter at `key`, atomically; the new value.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, Error> {
        let (s, sl) = self.name();
        let mut buf = vec![0u8; 8];
        let r = unsafe { sys::kv_increment(s, sl, key.as_ptr(), key.len() as i32, delta, buf.as_mut_ptr(), 8) };
        let out = result(r, buf)?;
        let mut n = [0u8; 8];
        n.copy_from_slice(&out[..8]);
        Ok(i64::from_le_bytes(n))
    }

    /// Sets `key` to `value` if it holds `old` (None: is not set);
    /// whether it did.
    pub fn compare_and_swap(&self, key: &str, old: Option<&[u8]>, value: &[u8]) -> Result<bool, Error> {
        let (s, sl) = self.name();
        let (o, ol) = match old {
            Some(o) => (o.as_ptr(), o.len() as i32),
            None => (std::ptr::null(), -1),
        };
        found(
            unsafe { sys::kv_cas(s, sl, key.as_ptr(), key.len() as i32, o, ol, value.as_ptr(), value.len() as i32, 0) },
            Error::Conflict,
        )
    }
}
