//! DSSE (Dead Simple Signing Envelope) signing and verification with ed25519 or ECDSA P-256.
//!
//! The signature covers the pre-authentication encoding (PAE) of the payload, exactly as the
//! DSSE spec defines it: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as
//! ASCII decimal byte counts. ECDSA signatures are ASN.1 DER over SHA-256 (what
//! securesystemslib, sigstore and Python `cryptography` produce and accept); ed25519 is
//! plain RFC 8032. The `keyid` is the hex SHA-256 of the public key's SubjectPublicKeyInfo
//! DER, so a verifier can match a key without trusting the envelope.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::secret::Secret;

/// Why signing or verification failed.
#[derive(Debug, thiserror::Error)]
pub enum DsseError {
    /// The private key PEM is not a PKCS#8 ed25519 or P-256 key (or SEC1 P-256).
    #[error("the signing key is not a PEM PKCS#8 ed25519 or ECDSA P-256 private key")]
    BadPrivateKey,
    /// The public key PEM is not an SPKI ed25519 or P-256 key.
    #[error(
        "the public key is not a PEM ed25519 or ECDSA P-256 public key (`-----BEGIN PUBLIC KEY-----`)"
    )]
    BadPublicKey,
    /// The envelope is not valid DSSE JSON.
    #[error("the envelope is not a DSSE JSON envelope: {0}")]
    Malformed(String),
    /// No signature verifies with the given key.
    #[error("no signature in the envelope verifies with the public key (keyid {keyid})")]
    BadSignature {
        /// The key tried.
        keyid: String,
    },
    /// The envelope carries no signature at all.
    #[error("the envelope is unsigned")]
    Unsigned,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Hint naming the key.
    #[serde(default)]
    pub keyid: String,
    /// Base64 signature over the PAE.
    pub sig: String,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Media type of the payload.
    pub payload_type: String,
    /// Base64 payload.
    pub payload: String,
    /// Signatures (empty when unsigned).
    pub signatures: Vec<Signature>,
}

impl Envelope {
    /// Wrap `payload` without signing it.
    #[must_use]
    pub fn unsigned(payload_type: &str, payload: &[u8]) -> Self {
        Self {
            payload_type: payload_type.to_owned(),
            payload: STANDARD.encode(payload),
            signatures: Vec::new(),
        }
    }

    /// Wrap and sign `payload`.
    #[must_use]
    pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Self {
        let mut envelope = Self::unsigned(payload_type, payload);
        envelope.signatures.push(Signature {
            keyid: key.verifying_key().keyid(),
            sig: STANDARD.encode(key.sign(&pae(payload_type, payload))),
        });
        envelope
    }

    /// Parse one envelope (one line of a `.intoto.jsonl`).
    ///
    /// # Errors
    /// [`DsseError::Malformed`].
    pub fn parse(text: &str) -> Result<Self, DsseError> {
        serde_json::from_str(text).map_err(|error| DsseError::Malformed(error.to_string()))
    }

    /// The decoded payload.
    ///
    /// # Errors
    /// [`DsseError::Malformed`] when the payload is not base64.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, DsseError> {
        STANDARD
            .decode(&self.payload)
            .map_err(|error| DsseError::Malformed(format!("payload is not base64: {error}")))
    }

    /// Check that at least one signature verifies with `key`.
    ///
    /// # Errors
    /// [`DsseError::Unsigned`], [`DsseError::BadSignature`] or [`DsseError::Malformed`].
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), DsseError> {
        if self.signatures.is_empty() {
            return Err(DsseError::Unsigned);
        }
        let message = pae(&self.payload_type, &self.payload_bytes()?);
        let verified = self.signatures.iter().any(|signature| {
            STANDARD
                .decode(&signature.sig)
                .is_ok_and(|bytes| key.verify(&message, &bytes))
        });
        if verified {
            Ok(())
        } else {
            Err(DsseError::BadSignature { keyid: key.keyid() })
        }
    }
}

/// The DSSE v1 pre-authentication encoding.
///
/// ```
/// let pae = lading::provenance::dsse::pae("http://example.com/HelloWorld", b"hello world");
/// assert_eq!(pae, b"DSSEv1 29 http://example.com/HelloWorld 11 hello world");
/// ```
#[must_use]
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A private key that signs envelopes.
pub enum SigningKey {
    /// ed25519.
    Ed25519(Secret<ed25519_dalek::SigningKey>),
    /// ECDSA P-256 with SHA-256.
    P256(Secret<p256::ecdsa::SigningKey>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ed25519(_) => f.write_str("SigningKey::Ed25519(REDACTED)"),
            Self::P256(_) => f.write_str("SigningKey::P256(REDACTED)"),
        }
    }
}

impl SigningKey {
    /// Parse a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) ed25519 or P-256, or SEC1
    /// (`BEGIN EC PRIVATE KEY`) P-256.
    ///
    /// # Errors
    /// [`DsseError::BadPrivateKey`]; the message never includes the key.
    pub fn from_pem(pem: &Secret<String>) -> Result<Self, DsseError> {
        let text = pem.expose().trim();
        if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(text) {
            return Ok(Self::Ed25519(Secret::new(key)));
        }
        if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_pem(text) {
            return Ok(Self::P256(Secret::new(key)));
        }
        if let Ok(secret) = p256::SecretKey::from_sec1_pem(text) {
            return Ok(Self::P256(Secret::new(p256::ecdsa::SigningKey::from(
                secret,
            ))));
        }
        Err(DsseError::BadPrivateKey)
    }

    /// The matching public key.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            Self::Ed25519(key) => VerifyingKey::Ed25519(key.expose().verifying_key()),
            Self::P256(key) => VerifyingKey::P256(*key.expose().verifying_key()),
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer as _;
        match self {
            Self::Ed25519(key) => key.expose().sign(message).to_bytes().to_vec(),
            Self::P256(key) => {
                let signature: p256::ecdsa::Signature = key.expose().sign(message);
                signature.to_der().as_bytes().to_vec()
            }
        }
    }
}

/// A public key that verifies envelopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// ECDSA P-256.
    P256(p256::ecdsa::VerifyingKey),
}

impl VerifyingKey {
    /// Parse an SPKI PEM public key (`BEGIN PUBLIC KEY`); a private key PEM is accepted too
    /// and reduced to its public half.
    ///
    /// # Errors
    /// [`DsseError::BadPublicKey`].
    pub fn from_pem(text: &str) -> Result<Self, DsseError> {
        let text = text.trim();
        if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(text) {
            return Ok(Self::Ed25519(key));
        }
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_pem(text) {
            return Ok(Self::P256(key));
        }
        SigningKey::from_pem(&Secret::new(text.to_owned()))
            .map(|key| key.verifying_key())
            .map_err(|_| DsseError::BadPublicKey)
    }

    /// SubjectPublicKeyInfo PEM.
    #[must_use]
    pub fn to_pem(&self) -> String {
        let pem =
            match self {
                Self::Ed25519(key) => key
                    .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::default()),
                Self::P256(key) => key
                    .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::default()),
            };
        pem.unwrap_or_default()
    }

    /// Hex SHA-256 of the SubjectPublicKeyInfo DER.
    #[must_use]
    pub fn keyid(&self) -> String {
        let der = match self {
            Self::Ed25519(key) => key
                .to_public_key_der()
                .map(ed25519_dalek::pkcs8::Document::into_vec),
            Self::P256(key) => key
                .to_public_key_der()
                .map(ed25519_dalek::pkcs8::Document::into_vec),
        };
        hex::encode(sha2::Sha256::digest(der.unwrap_or_default()))
    }

    /// `ed25519` or `ecdsa-p256`.
    #[must_use]
    pub const fn algorithm(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => "ed25519",
            Self::P256(_) => "ecdsa-p256-sha256",
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use ed25519_dalek::Verifier as _;
        match self {
            Self::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify_strict(message, &signature).is_ok()),
            Self::P256(key) => p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test keys generated with `openssl genpkey -algorithm ed25519` / `-algorithm EC
    // -pkeyopt ec_paramgen_curve:P-256`; they sign nothing real.
    pub(crate) const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILdENjzI6vzhd4QeEVCfQ4iX8O0aQCIYSp06wElGIT5v\n-----END PRIVATE KEY-----\n";

    fn roundtrip(pem: &str) {
        let key = SigningKey::from_pem(&Secret::new(pem.to_owned())).unwrap();
        let envelope = Envelope::sign(crate::provenance::PAYLOAD_TYPE, b"{\"a\":1}", &key);
        let public = VerifyingKey::from_pem(&key.verifying_key().to_pem()).unwrap();
        envelope.verify(&public).unwrap();
        assert_eq!(envelope.signatures[0].keyid, public.keyid());
        let mut tampered = envelope.clone();
        tampered.payload = STANDARD.encode(b"{\"a\":2}");
        assert!(matches!(
            tampered.verify(&public),
            Err(DsseError::BadSignature { .. })
        ));
        assert!(matches!(
            Envelope::unsigned("x", b"y").verify(&public),
            Err(DsseError::Unsigned)
        ));
    }

    #[test]
    fn ed25519_signs_and_verifies() {
        roundtrip(ED25519_PEM);
    }

    #[test]
    fn p256_signs_and_verifies() {
        use p256::pkcs8::EncodePrivateKey as _;
        let key = p256::ecdsa::SigningKey::from_slice(&[7_u8; 32]).unwrap();
        let pem = key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::default())
            .unwrap();
        roundtrip(&pem);
    }

    #[test]
    fn garbage_keys_are_refused_without_echoing_them() {
        let error = SigningKey::from_pem(&Secret::new("not a key s3cr3t".to_owned())).unwrap_err();
        assert!(!error.to_string().contains("s3cr3t"));
    }
}
