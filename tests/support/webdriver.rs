//! A small W3C WebDriver client over reqwest, driving headless Chromium through chromedriver
//! (Debian's `chromium` and `chromium-driver`, installed by `.ci/install-peers`): enough for
//! the web console's browser tests (navigate, find, type, click, read text, run a script,
//! screenshot, read the browser's console log).
//!
//! [`Browser::start`] starts one chromedriver and one browser session for the test that
//! owns it; both stop when it is dropped (nextest runs each test in its own process, so
//! nothing is shared through a static).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::{find_tool, peers::free_port};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium (`LADING_TEST_CHROMIUM`, else `chromium` on `PATH`).
pub fn chromium() -> Option<PathBuf> {
    find_tool("LADING_TEST_CHROMIUM", None, Some("chromium"))
}

/// chromedriver (`LADING_TEST_CHROMEDRIVER`, else `chromedriver` on `PATH`).
pub fn chromedriver() -> Option<PathBuf> {
    find_tool("LADING_TEST_CHROMEDRIVER", None, Some("chromedriver"))
}

/// axe-core's `axe.min.js` (`LADING_TEST_AXE`, else the peers dir's npm install).
pub fn axe() -> Option<PathBuf> {
    find_tool(
        "LADING_TEST_AXE",
        Some("axe-core/node_modules/axe-core/axe.min.js"),
        None,
    )
}

/// A headless Chromium session, with its chromedriver.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    /// Where downloads land.
    pub downloads: PathBuf,
}

/// An element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Start chromedriver on a free port and a headless Chromium session whose profile and
    /// downloads live under `dir`.
    pub fn start(chromium: &Path, chromedriver: &Path, dir: &Path) -> Self {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Self {
            driver,
            base,
            session: String::new(),
            runtime,
            client,
            downloads: dir.join("downloads"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = browser.runtime.block_on(async {
                browser
                    .client
                    .get(format!("{}/status", browser.base))
                    .send()
                    .await
                    .ok()
                    .map(|response| response.status().is_success())
            });
            if ready == Some(true) {
                break;
            }
            if let Ok(Some(status)) = browser.driver.try_wait() {
                panic!("chromedriver exited with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer in 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        fs_err::create_dir_all(&browser.downloads).unwrap();
        let profile = dir.join("chromium-profile");
        let created = browser.call(
            &reqwest::Method::POST,
            "/session",
            &json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--no-first-run",
                        "--window-size=1280,900",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                    "prefs": {
                        "download.default_directory": browser.downloads,
                        "download.prompt_for_download": false,
                        "safebrowsing.enabled": false,
                    },
                },
            }}}),
        );
        created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .clone_into(&mut browser.session);
        // Finding an element waits for it (up to 10 s), e.g. while a form's answer loads.
        browser.session_call(
            &reqwest::Method::POST,
            "/timeouts",
            &json!({ "implicit": 10_000 }),
        );
        browser
    }

    fn call(&self, method: &reqwest::Method, path: &str, body: &Value) -> Value {
        match self.try_call(method, path, body) {
            Ok(value) => value,
            Err(error) => panic!("WebDriver {method} {path}: {error}"),
        }
    }

    fn try_call(
        &self,
        method: &reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let (status, value) = self.runtime.block_on(async {
            let mut request = self.client.request(method.clone(), &url);
            if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .unwrap_or_else(|error| panic!("{url}: {error}"));
            let status = response.status();
            let value: Value = response.json().await.unwrap_or(Value::Null);
            (status, value)
        });
        if status.is_success() {
            Ok(value["value"].clone())
        } else {
            Err(format!("{status}: {value}"))
        }
    }

    fn session_call(&self, method: &reqwest::Method, path: &str, body: &Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Load `url` and wait for it.
    pub fn goto(&self, url: &str) {
        self.session_call(&reqwest::Method::POST, "/url", &json!({ "url": url }));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.session_call(&reqwest::Method::GET, "/url", &Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's HTML as the browser holds it now.
    pub fn source(&self) -> String {
        self.session_call(&reqwest::Method::GET, "/source", &Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Resize the window (a narrow screen: 390 × 844).
    pub fn resize(&self, width: u32, height: u32) {
        self.session_call(
            &reqwest::Method::POST,
            "/window/rect",
            &json!({ "width": width, "height": height }),
        );
    }

    /// The elements matching a CSS selector.
    pub fn find_all(&self, selector: &str) -> Vec<Element> {
        self.session_call(
            &reqwest::Method::POST,
            "/elements",
            &json!({ "using": "css selector", "value": selector }),
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|element| element[ELEMENT].as_str().map(|id| Element(id.to_owned())))
        .collect()
    }

    /// The one element matching a CSS selector (panics when there is none).
    pub fn find(&self, selector: &str) -> Element {
        self.find_all(selector)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no `{selector}` on {}:\n{}", self.url(), self.source()))
    }

    /// Type `text` into an element.
    pub fn type_into(&self, element: &Element, text: &str) {
        self.session_call(
            &reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            &json!({ "text": text }),
        );
    }

    /// Click an element (and wait for a navigation it starts).
    pub fn click(&self, element: &Element) {
        self.session_call(
            &reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            &json!({}),
        );
    }

    /// An element's rendered text.
    pub fn text(&self, element: &Element) -> String {
        self.session_call(
            &reqwest::Method::GET,
            &format!("/element/{}/text", element.0),
            &Value::Null,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// The text of the one element matching `selector` (found again if the page changed
    /// under it, as it does while a navigation a click started completes).
    pub fn text_of(&self, selector: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let element = self.find(selector);
            match self.try_call(
                &reqwest::Method::GET,
                &format!("/session/{}/element/{}/text", self.session, element.0),
                &Value::Null,
            ) {
                Ok(text) => return text.as_str().unwrap_or_default().to_owned(),
                Err(error) if error.contains("stale element") && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(error) => panic!("text of `{selector}`: {error}"),
            }
        }
    }

    /// An element's attribute (`None` when it has none).
    pub fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.session_call(
            &reqwest::Method::GET,
            &format!("/element/{}/attribute/{name}", element.0),
            &Value::Null,
        )
        .as_str()
        .map(ToOwned::to_owned)
    }

    /// Run `script` (a function body; `arguments` holds `args`) in the page; its return value.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.session_call(
            &reqwest::Method::POST,
            "/execute/sync",
            &json!({ "script": script, "args": args }),
        )
    }

    /// Run an asynchronous `script` that calls `arguments[arguments.length - 1]` with its result.
    pub fn execute_async(&self, script: &str, args: &[Value]) -> Value {
        self.session_call(
            &reqwest::Method::POST,
            "/execute/async",
            &json!({ "script": script, "args": args }),
        )
    }

    /// A PNG screenshot of the viewport, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.session_call(&reqwest::Method::GET, "/screenshot", &Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap();
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).unwrap();
        }
        fs_err::write(path, bytes).unwrap();
    }

    /// The browser console's entries since the last call (chromedriver's log endpoint):
    /// `(level, message)`.
    pub fn console_log(&self) -> Vec<(String, String)> {
        self.session_call(
            &reqwest::Method::POST,
            "/se/log",
            &json!({ "type": "browser" }),
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|entry| {
            (
                entry["level"].as_str().unwrap_or_default().to_owned(),
                entry["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
    }

    /// Wait (up to 30 s) for a file to finish downloading into [`Browser::downloads`] as
    /// `name`; its bytes.
    pub fn downloaded(&self, name: &str) -> Vec<u8> {
        let path = self.downloads.join(name);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let partial = fs_err::read_dir(&self.downloads).is_ok_and(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|entry| entry.file_name().to_string_lossy().ends_with(".crdownload"))
            });
            if path.exists() && !partial {
                return fs_err::read(&path).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "`{name}` was not downloaded into {} in 30 s",
                self.downloads.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = self
                .runtime
                .block_on(async { self.client.delete(&url).send().await });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
