//! Registries that want credentials or TLS: htpasswd basic auth, bearer
//! tokens from a token service (Docker Hub's scheme), a self-signed CA.
//! Each test runs as root and rootless.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::registry::{REGISTRY_PASSWORD, REGISTRY_USER, Registry, RegistrySetup};
use common::*;

const PLAIN: &str = "--tls-verify=false";

/// `skiff login` to `registry` as the test user with `password` on stdin.
fn login(ctx: &Ctx, registry: &Registry, password: &str) -> std::process::Output {
    let args = [
        "login",
        PLAIN,
        "-u",
        REGISTRY_USER,
        "--password-stdin",
        &registry.address,
    ];
    ctx.run_stdin(&args, format!("{password}\n").as_bytes())
}

#[test]
fn login_with_htpasswd_auth_and_logout() {
    let registry = Registry::start(RegistrySetup {
        auth: true,
        ..RegistrySetup::default()
    });
    for_each_user(|ctx| {
        let reference = registry.image(&format!("{}/private:1", ctx.user));
        ctx.load_busybox();
        let out = ctx.run_status(&["push", PLAIN, "busybox", &reference]);
        assert_exit_code(&out, 125, "push without login");
        assert_one_error_mentioning(&out, "unauthorized", "push without login");

        let out = login(ctx, &registry, "wrong-password");
        assert_exit_code(&out, 125, "login with a wrong password");
        assert_one_error_mentioning(&out, "invalid username/password", "wrong password");

        let out = login(ctx, &registry, REGISTRY_PASSWORD);
        assert_eq!(assert_success(&out, "login"), "Login Succeeded!\n");
        // podman's auth.json format, in $XDG_RUNTIME_DIR/containers.
        let auth_file = ctx.dir.join("xdg-runtime/containers/auth.json");
        let saved: serde_json::Value =
            serde_json::from_slice(&fs::read(&auth_file).unwrap()).unwrap();
        assert!(
            saved["auths"][&registry.address]["auth"].is_string(),
            "{saved}"
        );
        assert_eq!(
            fs::metadata(&auth_file).unwrap().permissions().mode() & 0o077,
            0
        );

        ctx.run_ok(&["push", PLAIN, "busybox", &reference]);
        let fresh = Ctx::new(ctx.user);
        let out = fresh.run_status(&["pull", PLAIN, &reference]);
        assert_exit_code(
            &out,
            125,
            "pull from another user session without credentials",
        );
        let creds = format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}");
        fresh.run_ok(&["pull", PLAIN, "--creds", &creds, &reference]);

        assert_eq!(
            ctx.run_ok(&["logout", &registry.address]),
            format!("Removed login credentials for {}\n", registry.address)
        );
        let out = ctx.run_status(&["pull", PLAIN, &reference]);
        assert_exit_code(&out, 125, "pull after logout");
        assert_one_error_mentioning(&out, "unauthorized", "pull after logout");
        let out = ctx.run_status(&["logout", &registry.address]);
        assert_exit_code(&out, 125, "second logout");
    });
}

#[test]
fn tls_registry_needs_its_ca_or_tls_verify_false() {
    let registry = Registry::start(RegistrySetup {
        tls: true,
        ..RegistrySetup::default()
    });
    let cert_dir = registry.cert_dir.clone().unwrap();
    let cert_dir = cert_dir.to_str().unwrap();
    for_each_user(|ctx| {
        let reference = registry.image(&format!("{}/tls:1", ctx.user));
        ctx.load_busybox();
        let out = ctx.run_status(&["push", "busybox", &reference]);
        assert_exit_code(&out, 125, "push to an untrusted certificate");
        assert_one_error_mentioning(&out, "TLS", "untrusted certificate");

        ctx.run_ok(&["push", "--cert-dir", cert_dir, "busybox", &reference]);
        let fresh = Ctx::new(ctx.user);
        fresh.run_ok(&["pull", "--cert-dir", cert_dir, &reference]);
        let other = Ctx::new(ctx.user);
        other.run_ok(&["pull", PLAIN, &reference]);
        assert_eq!(
            other.run_ok(&["run", "--rm", &reference, "echo", "tls"]),
            "tls\n"
        );
    });
}

#[test]
fn bearer_token_registry_login_push_pull() {
    let registry = Registry::start(RegistrySetup {
        token: true,
        ..RegistrySetup::default()
    });
    let challenge = registry.request("GET", "/v2/", "text/plain", b"");
    assert_eq!(challenge.status, 401);
    assert!(
        challenge.head.contains("Bearer realm="),
        "{}",
        challenge.head
    );
    for_each_user(|ctx| {
        let reference = registry.image(&format!("{}/bearer:1", ctx.user));
        ctx.load_busybox();
        // Anonymous tokens carry no access.
        let out = ctx.run_status(&["push", PLAIN, "busybox", &reference]);
        assert_exit_code(&out, 125, "anonymous push to a token registry");
        assert_one_error_mentioning(&out, &reference, "anonymous push");

        let out = login(ctx, &registry, "wrong");
        assert_exit_code(
            &out,
            125,
            "login with a wrong password at the token service",
        );
        assert_one_error_mentioning(&out, "invalid username/password", "bearer login");
        assert_eq!(
            assert_success(&login(ctx, &registry, REGISTRY_PASSWORD), "bearer login"),
            "Login Succeeded!\n"
        );

        ctx.run_ok(&["push", PLAIN, "busybox", &reference]);
        let fresh = Ctx::new(ctx.user);
        let out = fresh.run_status(&["pull", PLAIN, &reference]);
        assert_exit_code(&out, 125, "anonymous pull from a token registry");
        let creds = format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}");
        fresh.run_ok(&["pull", PLAIN, "--creds", &creds, &reference]);
        assert_eq!(
            fresh.run_ok(&["run", "--rm", &reference, "echo", "bearer"]),
            "bearer\n"
        );
    });
}
