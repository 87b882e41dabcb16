//! `client certs` and `client certs show`, run as the real binary
//! (`env!("CARGO_BIN_EXE_client")`) in a temporary directory, checked with `openssl`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::text;

fn client(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_client"))
        .args(args)
        .current_dir(cwd)
        // The test must not pick up settings from the environment it runs in.
        .env_remove("CERTS_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("run the client binary")
}

fn openssl(args: &[&str], cwd: &Path) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("openssl is installed")
}

/// A second `client certs` without `--force` changes nothing, exits non-zero, names the
/// files and the flag; with `--force` it replaces them.
#[test]
fn certs_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let first = client(&["certs", "--out", "pki"], dir.path());
    assert!(first.status.success(), "{}", text(&first));
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("client.pem"), "{}", text(&first));
    assert!(
        stdout.contains(playbook::names::CLIENT_SUBJECT_DN),
        "{}",
        text(&first)
    );

    let pki = dir.path().join("pki");
    let snapshot: Vec<(String, Vec<u8>)> = std::fs::read_dir(&pki)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    assert!(snapshot.len() >= 13, "{snapshot:?}");

    let second = client(&["certs", "--out", "pki"], dir.path());
    assert!(!second.status.success(), "{}", text(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("--force"), "{}", text(&second));
    assert!(stderr.contains("client.key.pem"), "{}", text(&second));
    for (name, bytes) in &snapshot {
        assert_eq!(
            &std::fs::read(pki.join(name)).unwrap(),
            bytes,
            "{name} changed"
        );
    }
    assert_eq!(
        std::fs::read_dir(&pki).unwrap().count(),
        snapshot.len(),
        "no stray files"
    );

    let forced = client(&["certs", "--out", "pki", "--force"], dir.path());
    assert!(forced.status.success(), "{}", text(&forced));
    assert!(
        String::from_utf8_lossy(&forced.stdout).contains("still use the old certificates"),
        "--force warns about running servers: {}",
        text(&forced)
    );
    assert_ne!(
        std::fs::read(pki.join("client.key.pem")).unwrap(),
        snapshot
            .iter()
            .find(|(n, _)| n == "client.key.pem")
            .unwrap()
            .1
    );
}

/// openssl agrees: client.pem chains to ca.pem, its subject is exactly the realm's DN, and
/// `client certs show` prints the same thumbprint openssl computes.
#[test]
fn openssl_verifies_the_client_certificate_and_its_dn() {
    let dir = tempfile::tempdir().unwrap();
    let made = client(&["certs", "--out", "."], dir.path());
    assert!(made.status.success(), "{}", text(&made));

    let verify = openssl(&["verify", "-CAfile", "ca.pem", "client.pem"], dir.path());
    assert!(verify.status.success(), "{}", text(&verify));
    assert_eq!(
        String::from_utf8_lossy(&verify.stdout).trim(),
        "client.pem: OK"
    );

    let rogue = openssl(
        &["verify", "-CAfile", "ca.pem", "rogue-client.pem"],
        dir.path(),
    );
    assert!(
        !rogue.status.success(),
        "the rogue certificate must not verify: {}",
        text(&rogue)
    );

    let subject = openssl(
        &[
            "x509",
            "-in",
            "client.pem",
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253",
        ],
        dir.path(),
    );
    assert_eq!(
        String::from_utf8_lossy(&subject.stdout).trim(),
        format!("subject={}", playbook::names::CLIENT_SUBJECT_DN)
    );

    // x5t#S256 as openssl computes it: SHA-256 of the DER, base64url without padding.
    let der = openssl(
        &["x509", "-in", "client.pem", "-outform", "DER"],
        dir.path(),
    );
    let digest = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(&der.stdout)?;
            child.wait_with_output()
        })
        .unwrap();
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.stdout);

    let shown = client(
        &["certs", "show", "client.pem", "client.key.pem"],
        dir.path(),
    );
    assert!(shown.status.success(), "{}", text(&shown));
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(
        stdout.contains(&format!("x5t#S256:  {expected}")),
        "{}",
        text(&shown)
    );
    assert!(stdout.contains("clientAuth"), "{}", text(&shown));
    assert!(stdout.contains("a private key"), "{}", text(&shown));

    // A .p12 is named for what it is, with the openssl command that reads it, and that
    // command works (the password is the documented dev one).
    let p12 = client(&["certs", "show", "client.p12"], dir.path());
    assert!(p12.status.success(), "{}", text(&p12));
    let stdout = String::from_utf8_lossy(&p12.stdout);
    assert!(
        stdout.contains("PKCS#12") && stdout.contains("openssl pkcs12 -in client.p12"),
        "{}",
        text(&p12)
    );
    let read = openssl(
        &[
            "pkcs12",
            "-in",
            "client.p12",
            "-nokeys",
            "-passin",
            "pass:playbook",
        ],
        dir.path(),
    );
    assert!(
        String::from_utf8_lossy(&read.stdout).contains("BEGIN CERTIFICATE"),
        "{}",
        text(&read)
    );

    let json = client(&["certs", "show", "--json", "client.pem"], dir.path());
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(doc[0]["certificates"][0]["x5t#S256"], expected.as_str());
    assert_eq!(
        doc[0]["certificates"][0]["subject"],
        playbook::names::CLIENT_SUBJECT_DN
    );
}

/// A file that is not a certificate is named in a clear error and fails the command.
#[test]
fn certs_show_names_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let o = client(&["certs", "show", "notes.txt", "missing.pem"], dir.path());
    assert!(!o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("notes.txt") && stdout.contains("BEGIN CERTIFICATE"),
        "{}",
        text(&o)
    );
    assert!(
        stdout.contains("missing.pem") && stdout.contains("client certs"),
        "{}",
        text(&o)
    );
}

/// `client certs check` (what ./start.sh runs before reusing certs/): a complete set
/// passes; a missing key fails naming the file and the fix; a missing rogue certificate
/// only warns (step 3b is skipped without it).
#[test]
fn certs_check_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let made = client(&["certs", "--out", "pki"], dir.path());
    assert!(made.status.success(), "{}", text(&made));
    let ok = client(&["--certs-dir", "pki", "certs", "check"], dir.path());
    assert!(ok.status.success(), "{}", text(&ok));

    std::fs::remove_file(dir.path().join("pki/rogue-client.pem")).unwrap();
    let rogue = client(&["--certs-dir", "pki", "certs", "check"], dir.path());
    assert!(rogue.status.success(), "{}", text(&rogue));
    assert!(
        String::from_utf8_lossy(&rogue.stdout).contains("step 3b"),
        "{}",
        text(&rogue)
    );

    std::fs::remove_file(dir.path().join("pki/resource-server.key.pem")).unwrap();
    let bad = client(&["--certs-dir", "pki", "certs", "check"], dir.path());
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout.contains("resource-server.key.pem is missing") && stdout.contains("--force"),
        "{}",
        text(&bad)
    );
}

/// `--key-type`: every certificate (CA, servers, clients) gets a key of that type, openssl
/// reads it so, the chain verifies, and the default is RSA-2048.
#[test]
fn certs_key_type_sets_every_key_and_defaults_to_rsa_2048() {
    let dir = tempfile::tempdir().unwrap();
    for (key_type, openssl_says) in [
        (None, "rsaEncryption"),
        (Some("rsa-4096"), "rsaEncryption"),
        (Some("ecdsa-p256"), "id-ecPublicKey"),
        (Some("ed25519"), "ED25519"),
    ] {
        let out = key_type.unwrap_or("default");
        let mut args = vec!["certs", "--out", out];
        if let Some(k) = key_type {
            args.extend(["--key-type", k]);
        }
        let made = client(&args, dir.path());
        assert!(made.status.success(), "{key_type:?}: {}", text(&made));
        for name in [
            "ca",
            "oauth2-provider",
            "resource-server",
            "client",
            "other-client",
        ] {
            let file = format!("{out}/{name}.pem");
            let shown = openssl(&["x509", "-in", &file, "-noout", "-text"], dir.path());
            let shown = String::from_utf8_lossy(&shown.stdout);
            assert!(
                shown.contains(&format!("Public Key Algorithm: {openssl_says}")),
                "{key_type:?} {name}: {shown}"
            );
            if key_type == Some("rsa-4096") {
                assert!(shown.contains("(4096 bit)"), "{name}: {shown}");
            } else if key_type.is_none() {
                assert!(shown.contains("(2048 bit)"), "{name}: {shown}");
            }
        }
        let verified = openssl(
            &[
                "verify",
                "-CAfile",
                &format!("{out}/ca.pem"),
                &format!("{out}/client.pem"),
            ],
            dir.path(),
        );
        assert!(
            verified.status.success(),
            "{key_type:?}: {}",
            text(&verified)
        );
    }
    let bad = client(&["certs", "--out", "x", "--key-type", "dsa"], dir.path());
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("rsa-2048") && stderr.contains("ed25519"),
        "{stderr}"
    );
}

/// A PKI written before the provisioner existed (no `provisioner.pem`): `client certs` adds
/// the provisioner's pair, issued by that PKI's CA (openssl verifies it), with its DN, the
/// key 0600, and touches nothing else; run again, it refuses as before.
#[test]
fn certs_adds_the_provisioner_to_an_older_pki() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let first = client(&["certs", "--out", "pki"], dir.path());
    assert!(first.status.success(), "{}", text(&first));
    let pki = dir.path().join("pki");
    for f in ["provisioner.pem", "provisioner.key.pem"] {
        std::fs::remove_file(pki.join(f)).unwrap();
    }
    let client_pem = std::fs::read(pki.join("client.pem")).unwrap();
    let added = client(&["certs", "--out", "pki"], dir.path());
    assert!(added.status.success(), "{}", text(&added));
    assert!(
        String::from_utf8_lossy(&added.stdout).contains("Added the provisioner"),
        "{}",
        text(&added)
    );
    assert_eq!(std::fs::read(pki.join("client.pem")).unwrap(), client_pem);
    let mode = std::fs::metadata(pki.join("provisioner.key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let verify = openssl(
        &["verify", "-CAfile", "pki/ca.pem", "pki/provisioner.pem"],
        dir.path(),
    );
    assert!(verify.status.success(), "{}", text(&verify));
    let subject = openssl(
        &[
            "x509",
            "-in",
            "pki/provisioner.pem",
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253",
        ],
        dir.path(),
    );
    assert!(
        String::from_utf8_lossy(&subject.stdout).contains(playbook::names::PROVISIONER_SUBJECT_DN),
        "{}",
        text(&subject)
    );
    let again = client(&["certs", "--out", "pki"], dir.path());
    assert!(!again.status.success(), "{}", text(&again));
}

/// Makes the dev PKI in `cwd/pki`; returns `client --certs-dir pki certs ARGS…`.
fn dev_pki_in(cwd: &Path) -> impl Fn(&[&str]) -> Output + '_ {
    let made = client(&["certs", "--out", "pki"], cwd);
    assert!(made.status.success(), "{}", text(&made));
    move |args: &[&str]| {
        let mut all = vec!["--certs-dir", "pki", "certs"];
        all.extend_from_slice(args);
        client(&all, cwd)
    }
}

/// `client certs intermediate` makes a CA under the dev CA, `client certs issue --signed-by` a
/// client certificate it signs, whose file holds the intermediate after it: openssl, trusting
/// only ca.pem, verifies the chain. Neither overwrites without --force; keys are 0600; a CA
/// without its key, and an intermediate asked to sign another CA, are refused naming the file
/// and the fix.
#[test]
fn intermediate_ca_and_the_client_certificates_it_issues() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let certs = dev_pki_in(cwd);
    let pki = cwd.join("pki");

    let inter = certs(&["intermediate"]);
    assert!(inter.status.success(), "{}", text(&inter));
    assert!(
        String::from_utf8_lossy(&inter.stdout)
            .contains(playbook::names::INTERMEDIATE_CA_SUBJECT_DN),
        "{}",
        text(&inter)
    );
    let verify = openssl(
        &["verify", "-CAfile", "pki/ca.pem", "pki/intermediate-ca.pem"],
        cwd,
    );
    assert!(verify.status.success(), "{}", text(&verify));

    let issued = certs(&[
        "issue",
        "intermediate-client",
        "--signed-by",
        "intermediate-ca",
    ]);
    assert!(issued.status.success(), "{}", text(&issued));
    let leaf = std::fs::read_to_string(pki.join("intermediate-client.pem")).unwrap();
    assert_eq!(leaf.matches("BEGIN CERTIFICATE").count(), 2, "{leaf}");
    let verify = openssl(
        &[
            "verify",
            "-CAfile",
            "pki/ca.pem",
            "-untrusted",
            "pki/intermediate-client.pem",
            "pki/intermediate-client.pem",
        ],
        cwd,
    );
    assert!(verify.status.success(), "{}", text(&verify));
    let without = openssl(
        &[
            "verify",
            "-CAfile",
            "pki/ca.pem",
            "pki/intermediate-client.pem",
        ],
        cwd,
    );
    assert!(
        !without.status.success(),
        "the leaf alone does not chain to the root: {}",
        text(&without)
    );
    let names = openssl(
        &[
            "x509",
            "-in",
            "pki/intermediate-client.pem",
            "-noout",
            "-subject",
            "-issuer",
            "-nameopt",
            "RFC2253",
        ],
        cwd,
    );
    assert_eq!(
        String::from_utf8_lossy(&names.stdout).trim(),
        format!(
            "subject={}\nissuer={}",
            playbook::names::CLIENT_SUBJECT_DN,
            playbook::names::INTERMEDIATE_CA_SUBJECT_DN
        )
    );
    #[cfg(unix)]
    for key in ["intermediate-ca.key.pem", "intermediate-client.key.pem"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(pki.join(key))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }

    // Never overwritten without --force; replaced with it.
    let before = std::fs::read(pki.join("intermediate-ca.key.pem")).unwrap();
    let again = certs(&["intermediate"]);
    assert!(!again.status.success(), "{}", text(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("intermediate-ca.key.pem") && stderr.contains("--force"),
        "{}",
        text(&again)
    );
    assert_eq!(
        std::fs::read(pki.join("intermediate-ca.key.pem")).unwrap(),
        before
    );
    let forced = certs(&[
        "issue",
        "intermediate-client",
        "--signed-by",
        "intermediate-ca",
        "--force",
    ]);
    assert!(forced.status.success(), "{}", text(&forced));

    // The rogue CA's key is not kept: it cannot sign, and the error says which file and why.
    let rogue = certs(&["issue", "x", "--signed-by", "rogue-ca"]);
    assert!(!rogue.status.success(), "{}", text(&rogue));
    let stderr = String::from_utf8_lossy(&rogue.stderr);
    assert!(
        stderr.contains("rogue-ca.key.pem") && stderr.contains("cannot sign"),
        "{}",
        text(&rogue)
    );
    assert!(!pki.join("x.pem").exists());

    // An intermediate signs leaves only.
    let deeper = certs(&["intermediate", "deeper", "--signed-by", "intermediate-ca"]);
    assert!(!deeper.status.success(), "{}", text(&deeper));
    let stderr = String::from_utf8_lossy(&deeper.stderr);
    assert!(
        stderr.contains("intermediate-ca.pem") && stderr.contains("pathLenConstraint 0"),
        "{}",
        text(&deeper)
    );

    // A name is a file name in CERTS_DIR, not a path.
    let path = certs(&["issue", "../elsewhere"]);
    assert!(!path.status.success(), "{}", text(&path));

    for sub in ["intermediate", "issue"] {
        let help = certs(&[sub, "--help"]);
        assert!(help.status.success(), "{}", text(&help));
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("--signed-by"),
            "{}",
            text(&help)
        );
    }
}

/// `client certs ca` makes a second root with the dev CA's very DN, in its own files (ca.pem
/// untouched); `revoke` puts a certificate on its own CA's CRL (openssl with -crl_check then
/// refuses it, and still accepts the others) and refuses a certificate of the same-DN CA, naming
/// the file and the fix; `renew` issues the same key and subject again, atomically, once or on
/// a schedule.
#[test]
fn second_ca_revocation_and_renewal() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let certs = dev_pki_in(cwd);
    let pki = cwd.join("pki");
    let ca_before = std::fs::read(pki.join("ca.pem")).unwrap();

    let twin = certs(&["ca"]);
    assert!(twin.status.success(), "{}", text(&twin));
    assert_eq!(std::fs::read(pki.join("ca.pem")).unwrap(), ca_before);
    let subject = |file: &str| {
        let o = openssl(
            &[
                "x509", "-in", file, "-noout", "-subject", "-nameopt", "RFC2253",
            ],
            cwd,
        );
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    assert_eq!(subject("pki/same-dn-ca.pem"), subject("pki/ca.pem"));
    let issued = certs(&["issue", "twin-client", "--signed-by", "same-dn-ca"]);
    assert!(issued.status.success(), "{}", text(&issued));

    // Revocation: the dev CA's CRL lists client.pem; openssl checking it refuses client.pem.
    let revoked = certs(&["revoke", "client"]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    let verify = |file: &str| {
        openssl(
            &[
                "verify",
                "-crl_check",
                "-CAfile",
                "pki/ca.pem",
                "-CRLfile",
                "pki/ca.crl.pem",
                file,
            ],
            cwd,
        )
    };
    let refused = verify("pki/client.pem");
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("certificate revoked"),
        "{}",
        text(&refused)
    );
    let other = verify("pki/other-client.pem");
    assert!(other.status.success(), "{}", text(&other));
    let crl = openssl(&["crl", "-in", "pki/ca.crl.pem", "-noout", "-text"], cwd);
    let crl_text = String::from_utf8_lossy(&crl.stdout);
    assert!(
        crl_text.contains("Next Update") && crl_text.contains("Key Compromise"),
        "{crl_text}"
    );

    // The dev CA did not sign twin-client.pem, though the names are the same.
    let wrong = certs(&["revoke", "twin-client"]);
    assert!(!wrong.status.success(), "{}", text(&wrong));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("twin-client.pem")
            && stderr.contains("same DN")
            && stderr.contains("--signed-by"),
        "{}",
        text(&wrong)
    );
    let right = certs(&["revoke", "twin-client", "--signed-by", "same-dn-ca"]);
    assert!(right.status.success(), "{}", text(&right));
    assert!(pki.join("same-dn-ca.crl.pem").exists());
    // A CA without its key cannot publish a CRL.
    let rogue = certs(&["crl", "--signed-by", "rogue-ca"]);
    assert!(!rogue.status.success(), "{}", text(&rogue));
    assert!(
        String::from_utf8_lossy(&rogue.stderr).contains("rogue-ca.key.pem"),
        "{}",
        text(&rogue)
    );

    // Renewal: same key and subject, a new serial, still verifying; the key file untouched.
    let short = certs(&["issue", "short", "--seconds", "4"]);
    assert!(short.status.success(), "{}", text(&short));
    let key = std::fs::read(pki.join("short.key.pem")).unwrap();
    let first = std::fs::read(pki.join("short.pem")).unwrap();
    let once = certs(&["renew", "short"]);
    assert!(once.status.success(), "{}", text(&once));
    let second = std::fs::read(pki.join("short.pem")).unwrap();
    assert!(first != second, "renewed: {}", text(&once));
    assert_eq!(std::fs::read(pki.join("short.key.pem")).unwrap(), key);
    assert_eq!(subject("pki/short.pem"), subject("pki/client.pem"));
    let ok = openssl(&["verify", "-CAfile", "pki/ca.pem", "pki/short.pem"], cwd);
    assert!(ok.status.success(), "{}", text(&ok));
    // Twice at two thirds of a 4-second lifetime: done in well under 10 s.
    let started = std::time::Instant::now();
    let twice = certs(&["renew", "short", "--at", "0.66", "--times", "2"]);
    assert!(twice.status.success(), "{}", text(&twice));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        String::from_utf8_lossy(&twice.stdout)
            .matches("renewed")
            .count(),
        2,
        "{}",
        text(&twice)
    );
    assert_eq!(std::fs::read(pki.join("short.key.pem")).unwrap(), key);
    let fresh = openssl(&["verify", "-CAfile", "pki/ca.pem", "pki/short.pem"], cwd);
    assert!(fresh.status.success(), "{}", text(&fresh));
    let bad = certs(&["renew", "short", "--at", "1.5"]);
    assert!(!bad.status.success(), "{}", text(&bad));
}

/// `client certs issue --crl-url` writes the CRL distribution point (openssl reads it back),
/// and `renew` keeps it: a verifier that fetches CRLs (Java with enableCRLDP, lab 10) would
/// otherwise refuse the renewed certificate.
#[test]
fn a_crl_distribution_point_is_issued_and_kept_by_renewal() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let certs = dev_pki_in(cwd);
    let url = "http://127.0.0.1:21599/ca.crl.pem";
    let issued = certs(&["issue", "crldp", "--seconds", "60", "--crl-url", url]);
    assert!(issued.status.success(), "{}", text(&issued));
    let points = || {
        let o = openssl(
            &[
                "x509",
                "-in",
                "pki/crldp.pem",
                "-noout",
                "-ext",
                "crlDistributionPoints",
            ],
            cwd,
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(points().contains(&format!("URI:{url}")), "{}", points());
    let renewed = certs(&["renew", "crldp"]);
    assert!(renewed.status.success(), "{}", text(&renewed));
    assert!(
        points().contains(&format!("URI:{url}")),
        "renewed: {}",
        points()
    );
    // Without the option, no extension.
    let plain = certs(&["issue", "plain"]);
    assert!(plain.status.success(), "{}", text(&plain));
    let o = openssl(
        &[
            "x509",
            "-in",
            "pki/plain.pem",
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
        cwd,
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("URI:"),
        "{}",
        text(&o)
    );
    let bad = certs(&["issue", "bad", "--crl-url", "not a url"]);
    assert!(!bad.status.success(), "{}", text(&bad));
}
