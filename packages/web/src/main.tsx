// The page's entry: one RPC connection for the whole page, and the app on it.
import { createRoot } from "react-dom/client";
import { App } from "./App.js";
import { connect } from "./rpc.js";
import "./styles.css";

const root = document.getElementById("root");
if (root === null) throw new Error("index.html has no #root");
createRoot(root).render(<App rpc={connect()} />);
