# frozen_string_literal: true

# labctl: while a machine's sshd is not up yet, Vagrant's SSH communicator
# (wait_for_ready) tries to connect again at once, with no pause. On docker
# the forwarded port is open from the moment the container exists (Docker's
# proxy accepts, then drops the connection until sshd listens), so each
# waiting machine's thread spins: a 5-node `vagrant up --parallel` made about
# 5400 SSH connection attempts, every one under Ruby's one global lock that
# all machine threads share, starving the threads doing real work.
#
# This file, loaded by the rendered Vagrantfile on the docker provider only,
# makes a failed attempt of that wait pause LABCTL_SSH_WAIT_PAUSE seconds
# (default 0.25; 0 turns the pause off) before Vagrant tries again. Only the
# wait's own attempts are paced (`connect(retries: 1)`, which nothing else in
# Vagrant calls); every error still reaches Vagrant unchanged, so its
# messages, retries and boot_timeout behave as before.
module LabctlSshWait
  DEFAULT_PAUSE = 0.25

  # The pause in seconds (labctl-env-seconds.rb: nonsense means the default).
  def self.pause
    LabctlEnvSeconds.read('LABCTL_SSH_WAIT_PAUSE', DEFAULT_PAUSE)
  end

  # Prepended onto the SSH communicator.
  module Connect
    def connect(**opts)
      super(**opts)
    rescue StandardError
      # Vagrant's wait loop rescues the error and calls again at once.
      sleep(LabctlSshWait.pause) if opts[:retries] == 1
      raise
    end
  end
end

# The communicator's class loads on first use; loading it here lets the module
# be prepended before any machine asks for it. Without Vagrant (tests with a
# stand-in communicator) the caller defines the class first.
if defined?(Vagrant) && !defined?(VagrantPlugins::CommunicatorSSH::Communicator)
  require Vagrant.source_root.join('plugins/communicators/ssh/communicator').to_s
end
VagrantPlugins::CommunicatorSSH::Communicator.prepend(LabctlSshWait::Connect)
