//! The envelope decoder on arbitrary bytes (what a reader finds in stored
//! event data: `{"$enc": "v1", "kid": …, "ct": …}` objects anywhere in the
//! JSON): parsing, opening under a key and revealing never panic; opening
//! tampered ciphertext is an error, never a value.
#![no_main]

use chronicle_privacy::{DataKey, envelope};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let key = DataKey::new("k-fuzz", &[7u8; 32]).expect("a 32-byte key");
    let mut kids: Vec<&str> = Vec::new();
    envelope::kids(&value, &mut kids);
    let _ = kids;
    envelope::replace_all(&mut value, &mut |found| match found {
        Ok(env) => key.open(&env).unwrap_or(serde_json::Value::Null),
        Err(_) => serde_json::Value::Null,
    });
    // A value sealed here opens to itself.
    let sealed = key.seal(&value).expect("seal");
    let env = envelope::parse(&sealed).expect("an envelope").expect("well formed");
    assert_eq!(key.open(&env).expect("opens"), value);
});
