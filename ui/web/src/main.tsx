import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { AuthProvider, RequireAuth, SignInPage } from "./auth";
import { Shell } from "./shell";
import { ProjectsPage } from "./pages/ProjectsPage";
import { TasksPage } from "./pages/TasksPage";
import { TaskPage } from "./pages/TaskPage";
import { QueuesPage } from "./pages/QueuesPage";
import { WorkersPage } from "./pages/WorkersPage";
import { Toasts } from "./ui";
import "./styles.css";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <BrowserRouter>
      <AuthProvider>
        <Toasts>
        <Routes>
          <Route path="/login" element={<SignInPage />} />
          <Route
            element={
              <RequireAuth>
                <Shell />
              </RequireAuth>
            }
          >
            <Route index element={<Navigate to="/projects" replace />} />
            <Route path="/projects" element={<ProjectsPage />} />
            <Route path="/projects/:project/tasks" element={<TasksPage />} />
            {/* A task's own page (also the ClearML SDK's results link, …/output/log). */}
            <Route path="/projects/:project/tasks/:task/*" element={<TaskPage />} />
            <Route path="/tasks" element={<TasksPage />} />
            <Route path="/tasks/:task/*" element={<TaskPage />} />
            <Route path="/queues" element={<QueuesPage />} />
            <Route path="/queues/:queue" element={<QueuesPage />} />
            <Route path="/workers" element={<WorkersPage />} />
            <Route path="/workers/:worker" element={<WorkersPage />} />
            <Route path="*" element={<p className="empty">No such page.</p>} />
          </Route>
        </Routes>
        </Toasts>
      </AuthProvider>
    </BrowserRouter>
  </StrictMode>,
);
