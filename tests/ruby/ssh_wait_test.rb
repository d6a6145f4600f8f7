# frozen_string_literal: true

# vagrant/ssh_wait.rb against a stand-in for Vagrant's SSH communicator: a
# Communicator class whose `connect` fails a given number of times (as a
# machine's sshd that is not up yet), driven by a copy of Vagrant's own
# wait_for_ready loop (rescue, try again at once). Run by tests/ssh_wait.rs,
# one test per process (`ruby tests/ruby/ssh_wait_test.rb -n test_NAME`),
# with LABCTL_SSH_WAIT naming the file under test and LABCTL_ENV_SECONDS the
# reader of its setting (vagrant/env_seconds.rb).

require 'minitest/autorun'

module VagrantPlugins
  module CommunicatorSSH
    class Communicator
      attr_reader :attempts

      def initialize(failures)
        @failures = failures
        @attempts = 0
      end

      def connect(**_opts)
        @attempts += 1
        raise IOError, 'connection reset' if @attempts <= @failures

        :connection
      end

      # Vagrant's wait_for_ready: no pause between attempts.
      def wait_for_ready
        loop do
          begin
            return connect(retries: 1)
          rescue IOError
            next
          end
        end
      end
    end
  end
end

# As the Vagrantfile does: the settings' reader first.
require File.expand_path(ENV.fetch('LABCTL_ENV_SECONDS'))
require ENV.fetch('LABCTL_SSH_WAIT')

class SshWaitTest < Minitest::Test
  def elapsed
    start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    yield
    Process.clock_gettime(Process::CLOCK_MONOTONIC) - start
  end

  # Four failed attempts of the wait: four pauses, then the connection.
  def test_wait_attempts_are_paced
    ENV['LABCTL_SSH_WAIT_PAUSE'] = '0.1'
    comm = VagrantPlugins::CommunicatorSSH::Communicator.new(4)
    result = nil
    took = elapsed { result = comm.wait_for_ready }
    assert_equal :connection, result
    assert_equal 5, comm.attempts
    assert_operator took, :>=, 0.4
  end

  # Other connects (Vagrant's default of 5 tries) fail as before, unpaced,
  # with the same error.
  def test_other_connects_are_not_paced
    ENV['LABCTL_SSH_WAIT_PAUSE'] = '5'
    comm = VagrantPlugins::CommunicatorSSH::Communicator.new(1)
    took = elapsed { assert_raises(IOError) { comm.connect(retries: 5) } }
    assert_operator took, :<, 1
  end

  # 0 turns the pause off; nonsense falls back to the default.
  def test_pause_setting
    ENV['LABCTL_SSH_WAIT_PAUSE'] = '0'
    assert_equal 0.0, LabctlSshWait.pause
    ENV['LABCTL_SSH_WAIT_PAUSE'] = 'soon'
    assert_equal LabctlSshWait::DEFAULT_PAUSE, LabctlSshWait.pause
    ENV['LABCTL_SSH_WAIT_PAUSE'] = '-1'
    assert_equal LabctlSshWait::DEFAULT_PAUSE, LabctlSshWait.pause
  end
end
